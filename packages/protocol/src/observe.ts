import type { Purpose } from './canonical.js';

/**
 * What the protocol tells a process about the checks it ran: signature verifications by purpose
 * and nonces refused. The protocol does no I/O and keeps no metrics; a part that exports them
 * (runtime's metrics) sets the one observer of its process. A plain function call, no async
 * context: these run on every signed request.
 */
export interface ProtocolObserver {
  verified(purpose: Purpose, ok: boolean): void;
  nonceRefused(): void;
}

let current: ProtocolObserver | null = null;

/** Sets the process's observer (null removes it). */
export function observeProtocol(observer: ProtocolObserver | null): void {
  current = observer;
}

export function protocolObserver(): ProtocolObserver | null {
  return current;
}
