import { createSocket } from 'node:dgram';
import { type LookupOneOptions, lookup } from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import type { ResponseRateLimiter } from './limits.js';
import { type Responder, truncatedReply } from './responder.js';
import type { DnsLogger } from './zone-source.js';

export interface Listening {
  port: number;
  close(): Promise<void>;
}

/** Queries answered at once; past this, datagrams are dropped and the client retries. */
const MAX_IN_FLIGHT = 512;

export function listenUdp(
  host: string,
  port: number,
  respond: Responder,
  logger: DnsLogger,
  limiter: ResponseRateLimiter,
): Promise<Listening> {
  const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', lookup: literalFirst });
  let inFlight = 0;
  let closed = false;

  // Sent without a callback: a send error (a peer gone) is nobody's to handle, the client
  // retries; with one, every send would also cost a tick to report its success.
  socket.on('message', (message, peer) => {
    if (inFlight >= MAX_IN_FLIGHT) return;
    // Decided before any work, so a flood costs the server little as well as its victim.
    const decision = limiter.decide(peer.address);
    if (decision !== 'answer') {
      const slipped = decision === 'slip' ? truncatedReply(message) : null;
      try {
        if (slipped && !closed) socket.send(slipped, peer.port, peer.address);
      } catch {
        // A forged source (port 0, say) makes send throw; such a peer gets nothing.
      }
      return;
    }
    // A question answered before: its kept reply at once, no promise (responder.ts).
    const kept = respond.now?.(message);
    if (kept) {
      try {
        if (!closed) socket.send(kept, peer.port, peer.address);
      } catch {
        // A forged source (port 0, say) makes send throw; such a peer gets nothing.
      }
      return;
    }
    inFlight++;
    void respond(message, 'udp')
      .then((reply) => {
        // A forged source (port 0, say) makes send throw; such a peer gets nothing.
        if (reply && !closed) socket.send(reply, peer.port, peer.address);
      })
      .catch(() => {})
      .finally(() => {
        inFlight--;
      });
  });

  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      socket.on('error', (error) => logger.warn({ err: error }, 'service DNS UDP socket error'));
      resolve({
        port: socket.address().port,
        close: () =>
          new Promise<void>((done) => {
            if (closed) return done();
            closed = true;
            socket.close(() => done());
          }),
      });
    });
  });
}

/**
 * The socket's name lookup: an address (every peer's is one) is its own answer, given at once;
 * the default (dns.lookup) answers even those a tick later, which would put every reply behind a
 * tick of its own. Names (a host to bind to) still go to dns.lookup.
 */
function literalFirst(
  address: string,
  options: LookupOneOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const literal = isIP(address);
  if (literal !== 0) callback(null, address, literal);
  else lookup(address, options, callback);
}
