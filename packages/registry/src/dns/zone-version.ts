/**
 * The SOA serial a secondary compares to decide whether to transfer the zone again (RFC 1034 §4.3.5).
 *
 * It moves forward whenever something this process hears of changes an answer (`changed`), and at
 * least at the start of every hour, when the online signatures' window steps (signer.ts), so a
 * secondary holding a signed copy fetches fresh RRSIGs long before the old ones expire. It starts
 * at the process's start time, so a restart never goes back. Each change takes the current second,
 * or one more than the last serial when two changes fall in one second.
 *
 * Some changes nobody announces: health lost by time alone (an instance that never beat after its
 * binding), a commit of another process on SQLite. So whoever reads the whole zone (a transfer, an
 * IXFR poll, the periodic check while secondaries are listed) hands its digest to `observed`: when
 * the records differ from the last ones seen under the same serial, the serial moves first. The
 * same serial never goes out with different records.
 */
export const SERIAL_STEP_SECONDS = 3600;

export class ZoneVersion {
  #changedTo: number;
  #handedOut = true;
  #lastDigest: string | null = null;
  #lastDigestSerial = -1;

  constructor(startedAt: number) {
    this.#changedTo = startedAt >>> 0;
  }

  /** The serial at `now` (Unix seconds), handed out (an SOA, a transfer). */
  serial(now: number): number {
    this.#handedOut = true;
    return this.#current(now);
  }

  /**
   * Something an answer depends on changed at `now`. Changes between two serials handed out share
   * one new serial, so a burst of changes moves the serial once, not once per change, and the
   * serial stays near the clock.
   */
  changed(now: number): void {
    this.#changedTo = (this.#handedOut ? Math.max(now, this.#current(now) + 1) : Math.max(now, this.#changedTo)) >>> 0;
    this.#handedOut = false;
  }

  #current(now: number): number {
    return Math.max(hourStart(now), this.#changedTo) >>> 0;
  }

  /**
   * The serial of the zone whose records have `digest`, read at `now`: when the records differ from
   * the last ones seen under the same serial, the serial moves first.
   */
  observed(digest: string, now: number): number {
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
