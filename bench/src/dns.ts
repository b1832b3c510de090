import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { provision } from '@swarm/client';
import { spawnScript, stop } from '@swarm/dev-env';
import { appDnsZone } from '@swarm/protocol';
import dnsPacket from 'dns-packet';
import { type BenchResult, pairedMedian, result } from './harness.js';
import { spreadOf } from './http-load.js';
import { developerApp, type SwarmUnderTest } from './swarm.js';

export interface SrvLoad {
  perSecond: number;
  /** Replies with at least one answer record (the rest: no healthy instance, or an error). */
  answered: number;
  replies: number;
  lost: number;
}

/**
 * SRV queries over UDP with `inFlight` outstanding, for `seconds` or until `amount` replies came (or `seconds` passed):
 * `name` is one question or a shared walk handing out the next name for every query.
 */
export async function srvLoad(
  port: number,
  name: string | (() => string),
  options: { seconds?: number; amount?: number; inFlight?: number; dnssecOk?: boolean; edns?: boolean } = {},
): Promise<SrvLoad> {
  const inFlight = options.inFlight ?? 32;
  const nextName = typeof name === 'string' ? () => name : name;
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  let replies = 0;
  let answered = 0;
  let sent = 0;
  let id = 0;
  let running = true;
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const send = () => {
    if (!running || (options.amount !== undefined && sent >= options.amount)) return;
    id = (id + 1) & 0xffff;
    sent++;
    socket.send(
      dnsPacket.encode({
        id,
        type: 'query',
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: 'SRV', name: nextName() }],
        ...(options.dnssecOk ? { additionals: [DO] } : options.edns ? { additionals: [EDNS] } : {}),
      }),
      port,
      '127.0.0.1',
    );
  };
  let lastReplyAt = performance.now();
  socket.on('message', (message) => {
    replies++;
    lastReplyAt = performance.now();
    const answer = dnsPacket.decode(message);
    if ((answer.answers?.length ?? 0) > 0) answered++;
    if (options.amount !== undefined && replies >= options.amount) finished();
    send();
  });
  const start = performance.now();
  for (let i = 0; i < inFlight; i++) send();
  // A lost datagram would shrink the window: top it back up every 100 ms.
  const topUp = setInterval(() => {
    const outstanding = sent - replies;
    for (let i = outstanding; i < inFlight; i++) send();
    // A fixed amount whose last queries were lost ends half a second after the last reply.
    if (options.amount !== undefined && sent >= options.amount && performance.now() - lastReplyAt > 500) finished();
  }, 100);
  // `seconds` ends a run, one with a fixed amount too if it is not done by then.
  const timer = options.amount === undefined || options.seconds !== undefined ? setTimeout(finished, (options.seconds ?? 3) * 1000) : null;
  await done;
  running = false;
  clearInterval(topUp);
  if (timer) clearTimeout(timer);
  const elapsed = ((options.amount === undefined || replies < options.amount ? performance.now() : lastReplyAt) - start) / 1000;
  socket.close();
  return { perSecond: replies / elapsed, answered, replies, lost: sent - replies };
}

const ROUNDS = 5;
/** EDNS with the DO bit: the query asks for signatures (RFC 3225). */
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

/** EDNS without DO: room for an answer larger than 512 bytes (ten instances' SRV records). */
const EDNS: dnsPacket.Answer = { ...DO, flags: 0, flag_do: false };

/** The baseline DNS server (dns-static-process.ts) in its own process. */
export function startStaticDns() {
  const script = fileURLToPath(new URL('./dns-static-process.ts', import.meta.url));
  return spawnScript<{ port: number }>('static dns', script, [], { stderr: 'inherit' });
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

  const staticDns = await startStaticDns();
  const staticPort = staticDns.ready.port;
  try {
    // Paired rounds in alternating order, the round with the median ratio kept (as the HTTP
    // comparisons do): a burst of load from elsewhere hits one round, not one side.
    const dnsPort = swarm.registry.dnsPort;
    const { median, ratios } = await pairedMedian(
      () => srvLoad(dnsPort, name, { seconds }),
      () => srvLoad(staticPort, name, { seconds }),
      (run) => run.perSecond,
      { rounds: ROUNDS },
    );
    // The same registry answering the same question with and without DO: what signing costs.
    const signed = await pairedMedian(
      () => srvLoad(dnsPort, name, { seconds, dnssecOk: true }),
      () => srvLoad(dnsPort, name, { seconds }),
      (run) => run.perSecond,
      { rounds: ROUNDS },
    );
    return [
      result(
        'Service DNS SRV over UDP (registry)',
        median.subject.perSecond,
        'queries/s',
        'static SRV answer, same DNS library',
        median.baseline.perSecond,
        0.7,
        spreadOf(ratios),
      ),
      result(
        'Service DNS SRV over UDP, DNSSEC (DO set)',
        signed.median.subject.perSecond,
        'queries/s',
        'the same registry, DO clear',
        signed.median.baseline.perSecond,
        0.7,
        spreadOf(signed.ratios),
      ),
    ];
  } finally {
    await stop(staticDns);
  }
}
