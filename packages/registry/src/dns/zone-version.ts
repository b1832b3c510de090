/**
 * The SOA serial a secondary compares to decide whether to transfer the zone again (RFC 1034 §4.3.5).
 *
 * It moves forward whenever something this process hears of changes an answer (`changed`), and at
 * least at the start of every hour, when the online signatures' window steps (signer.ts), so a
 * secondary holding a signed copy fetches fresh RRSIGs long before the old ones expire. It starts
 * at the process's start time, so a restart never goes back. Each change takes the current second,
 * or one more than the last serial when two changes fall in one second.
 *
 * Health lost by time alone is heard of late (the liveness sweep), and a commit of another process
 * on SQLite not at all; so a transfer also compares a digest of the records it sends with the last
 * one sent: the same serial never goes out with different records (`transferred`).
 */
export const SERIAL_STEP_SECONDS = 3600;

export class ZoneVersion {
  #changedTo: number;
  #lastDigest: string | null = null;
  #lastDigestSerial = -1;

  constructor(startedAt: number) {
    this.#changedTo = startedAt >>> 0;
  }

  /** The serial at `now` (Unix seconds). */
  serial(now: number): number {
    return Math.max(hourStart(now), this.#changedTo) >>> 0;
  }

  /** Something an answer depends on changed at `now`. */
  changed(now: number): void {
    this.#changedTo = Math.max(now, this.serial(now) + 1) >>> 0;
  }

  /**
   * The serial a transfer built at `now` goes out with, given the digest of its records: when the
   * records differ from the last transfer sent under the same serial, the serial moves first.
   */
  transferred(digest: string, now: number): number {
    if (this.#lastDigest !== null && this.#lastDigest !== digest && this.#lastDigestSerial === this.serial(now)) this.changed(now);
    this.#lastDigest = digest;
    this.#lastDigestSerial = this.serial(now);
    return this.#lastDigestSerial;
  }
}

/** The serial of a zone with no change tracking: the start of the current hour. */
export function hourStart(now: number): number {
  return now - (now % SERIAL_STEP_SECONDS);
}
