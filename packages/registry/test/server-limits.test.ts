import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type RegistryHandle, startRegistry } from '../src/index.js';

// The limits come from the environment, as an operator sets them: small ones, so the test is quick.
process.env.SWARM_HTTP_HEADERS_TIMEOUT_MS = '1000';
process.env.SWARM_HTTP_BODY_TIMEOUT_MS = '1500';
process.env.SWARM_HTTP_IDLE_TIMEOUT_MS = '1000';
process.env.SWARM_HTTP_MAX_CONNECTIONS_PER_ADDRESS = '16';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw connection from `localAddress`; resolves once connected, with the time it was closed by the server. */
function open(port: number, localAddress: string): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    socket.on('data', () => {});
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now())));
    socket.once('error', () => {});
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

/** A GET over a fresh connection from `localAddress`: the status line, or the error. */
function getFrom(port: number, localAddress: string, path: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString();
    });
    socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
    socket.on('error', (error) => resolve(`error ${error.message}`));
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`));
  });
}

describe('server limits (registry)', () => {
  let registry: RegistryHandle;
  let port = 0;
  before(async () => {
    registry = await startRegistry({ port: 0, dnsPort: false, logLevel: false });
    port = Number(new URL(registry.url).port);
  });
  after(() => registry?.close());

  it('cuts off a client that sends its headers byte by byte', async () => {
    // Baseline: a complete request on this machine, now.
    const started = Date.now();
    assert.match(await getFrom(port, '127.0.0.1', '/healthz'), / 200 /);
    const baseline = Date.now() - started;

    const { socket, closed } = await open(port, '127.0.0.1');
    const opened = Date.now();
    const drip = `GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ${'a'.repeat(10_000)}`;
    let sent = 0;
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write(drip[sent++ % drip.length] ?? 'a');
    }, 50);
    const bound = 1000 + 1000 + 3000 + baseline * 5;
    const outcome = await Promise.race([closed.then((at) => at - opened), sleep(bound + 5000).then(() => null)]);
    clearInterval(timer);
    socket.destroy();
    assert.ok(outcome !== null, 'the slow client is still connected');
    assert.ok(outcome <= bound, `cut off after ${outcome} ms, bound ${bound} ms`);
    assert.ok(sent > 10, 'the client was dripping bytes the whole time');
  });

  it('closes connections past the per-address cap and keeps serving other addresses', async () => {
    const held = await Promise.all(Array.from({ length: 40 }, () => open(port, '127.0.0.2')));
    const closedAt = held.map(() => 0);
    held.forEach(({ closed }, i) => {
      closed.then((at) => {
        closedAt[i] = at;
      });
    });
    await sleep(300);
    const early = closedAt.filter((at) => at > 0).length;
    assert.ok(early >= 40 - 16, `${early} of 40 connections from one address were closed at once, expected at least 24`);
    // Another address is served while the first holds its sockets.
    assert.match(await getFrom(port, '127.0.0.3', '/healthz'), / 200 /);
    // The rest are idle and go within the idle bounds.
    await Promise.race([Promise.all(held.map(({ closed }) => closed)), sleep(8000)]);
    const open_ = closedAt.filter((at) => at === 0).length;
    for (const { socket } of held) socket.destroy();
    assert.equal(open_, 0, `${open_} idle connections were still open`);
    // With them gone, the first address is served again.
    assert.match(await getFrom(port, '127.0.0.2', '/healthz'), / 200 /);
  });

  it('closes a keep-alive connection that stays idle between requests', async () => {
    const { socket, closed } = await open(port, '127.0.0.4');
    socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    const answered = Date.now();
    const outcome = await Promise.race([closed.then((at) => at - answered), sleep(10_000).then(() => null)]);
    socket.destroy();
    assert.ok(outcome !== null && outcome < 6000, `idle connection closed after ${outcome} ms`);
  });
});
