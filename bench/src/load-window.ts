import { createInterface } from 'node:readline';
import type { BeatReport } from './beats.js';
import { percentile } from './harness.js';

/** Latencies kept per window at most: percentiles of more say nothing new, and memory stays bounded. */
const MAX_LATENCIES = 200_000;

/** What a load generator counted since its last report; a fresh one opens at each report. */
export class LoadWindow {
  readonly at = performance.now();
  readonly cpu = process.cpuUsage();
  sent = 0;
  accepted = 0;
  refused = 0;
  readonly refusedByCode: Record<string, number> = {};
  failed = 0;
  skipped = 0;
  readonly latenciesMs: number[] = [];

  refuse(code: string, beats = 1): void {
    this.refusedByCode[code] = (this.refusedByCode[code] ?? 0) + beats;
    this.refused += beats;
  }

  latency(ms: number): void {
    if (this.latenciesMs.length < MAX_LATENCIES) this.latenciesMs.push(ms);
  }

  /** The report over the seconds since this window opened, with the generator's own CPU share. */
  report(instances: number, intervalSeconds: number, inFlight: number): BeatReport {
    const seconds = (performance.now() - this.at) / 1000;
    const cpu = process.cpuUsage(this.cpu);
    return {
      instances,
      interval_seconds: intervalSeconds,
      target_per_second: instances / intervalSeconds,
      seconds,
      sent: this.sent,
      accepted: this.accepted,
      accepted_per_second: this.accepted / seconds,
      refused: this.refused,
      refused_by_code: this.refusedByCode,
      failed: this.failed,
      skipped: this.skipped,
      in_flight: inFlight,
      p50_ms: percentile(this.latenciesMs, 50),
      p99_ms: percentile(this.latenciesMs, 99),
      cpu_share: (cpu.user + cpu.system) / 1e6 / seconds,
    };
  }
}

/** `report` on stdin prints one report line; the end of stdin or SIGTERM stops the generator. */
export function serveReports(report: () => object, stop: () => Promise<void>): void {
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'report') process.stdout.write(`${JSON.stringify(report())}\n`);
  });
  const stopAll = async () => {
    await stop();
    process.exit(0);
  };
  process.stdin.on('end', stopAll);
  process.on('SIGTERM', stopAll);
}
