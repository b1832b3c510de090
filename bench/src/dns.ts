import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { provision } from '@swarm/client';
import { spawnScript, stop } from '@swarm/dev-env';
import { appDnsZone } from '@swarm/protocol';
import dnsPacket from 'dns-packet';
import { type BenchResult, result } from './harness.js';
import { developerApp, type SwarmUnderTest } from './swarm.js';

/** Answers per second for `name` SRV over UDP with `inFlight` queries outstanding; `dnssecOk` asks for signatures. */
async function srvRate(
  port: number,
  name: string,
  seconds: number,
  dnssecOk = false,
  inFlight = 32,
): Promise<{ perSecond: number; lost: number }> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let answered = 0;
  let sent = 0;
  let id = 0;
  const send = () => {
    id = (id + 1) & 0xffff;
    sent++;
    socket.send(
      dnsPacket.encode({
        id,
        type: 'query',
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: 'SRV', name }],
        ...(dnssecOk ? { additionals: [DO] } : {}),
      }),
      port,
      '127.0.0.1',
    );
  };
  let running = true;
  socket.on('message', (message) => {
    const answer = dnsPacket.decode(message);
    if ((answer.answers?.length ?? 0) > 0) answered++;
    if (running) send();
  });
  const start = performance.now();
  for (let i = 0; i < inFlight; i++) send();
  // A lost datagram would shrink the window: top it back up every 100 ms.
  const topUp = setInterval(() => {
    const outstanding = sent - answered;
    for (let i = outstanding; i < inFlight; i++) send();
  }, 100);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  running = false;
  clearInterval(topUp);
  const elapsed = (performance.now() - start) / 1000;
  socket.close();
  return { perSecond: answered / elapsed, lost: sent - answered };
}

const ROUNDS = 5;
const DO: dnsPacket.Answer = {
  type: 'OPT',
  name: '.',
  udpPayloadSize: 1232,
  extendedRcode: 0,
  ednsVersion: 0,
  flags: dnsPacket.DNSSEC_OK,
  flag_do: true,
  options: [],
};

/**
 * Paired rounds in alternating order, the round with the median ratio kept (as the HTTP
 * comparisons do): a burst of load from elsewhere hits one round, not one side.
 */
async function pairedRounds(measured: () => Promise<number>, baseline: () => Promise<number>) {
  const pairs: Array<{ measured: number; baseline: number; ratio: number }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    let base: number;
    let value: number;
    if (round % 2 === 0) {
      base = await baseline();
      value = await measured();
    } else {
      value = await measured();
      base = await baseline();
    }
    pairs.push({ measured: value, baseline: base, ratio: value / base });
  }
  const median = [...pairs].sort((x, y) => x.ratio - y.ratio)[Math.floor(pairs.length / 2)] as (typeof pairs)[number];
  const spread = pairs.map((pair) => pair.ratio.toFixed(2)).sort();
  return { median, note: `rounds ${spread[0]}–${spread.at(-1)} (median of ${pairs.length})` };
}

/** Service DNS SRV queries per second against a static answer from the same DNS library. */
export async function benchDns(swarm: SwarmUnderTest, seconds = 3): Promise<BenchResult[]> {
  if (!swarm.registry.dnsPort) throw new Error('the swarm runs without DNS');
  const app = await developerApp(swarm.urls.registry, 'bench-dns');
  await provision(
    { registry: swarm.urls.registry },
    { appId: app.appId, serviceType: 'cms-article', master: app.master, tier: 'free', region: 'local' },
  );
  const name = `_cms-article._tcp.${appDnsZone(app.appId).slice(0, -1)}`;

  const script = fileURLToPath(new URL('./dns-static-process.ts', import.meta.url));
  const staticDns = await spawnScript<{ port: number }>('static dns', script, [], { stderr: 'inherit' });
  const staticPort = staticDns.ready.port;
  try {
    const dnsPort = swarm.registry.dnsPort;
    const plain = await pairedRounds(
      async () => (await srvRate(dnsPort, name, seconds)).perSecond,
      async () => (await srvRate(staticPort, name, seconds)).perSecond,
    );
    // The same registry answering the same question with and without DO: what signing costs.
    const signed = await pairedRounds(
      async () => (await srvRate(dnsPort, name, seconds, true)).perSecond,
      async () => (await srvRate(dnsPort, name, seconds)).perSecond,
    );
    return [
      result(
        'Service DNS SRV over UDP (registry)',
        plain.median.measured,
        'queries/s',
        'static SRV answer, same DNS library',
        plain.median.baseline,
        0.7,
        plain.note,
      ),
      result(
        'Service DNS SRV over UDP, DNSSEC (DO set)',
        signed.median.measured,
        'queries/s',
        'the same registry, DO clear',
        signed.median.baseline,
        0.7,
        signed.note,
      ),
    ];
  } finally {
    await stop(staticDns);
  }
}
