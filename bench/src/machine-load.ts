import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

function cpuTimes(): number[] {
  // user nice system idle iowait irq softirq steal
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
  return line.trim().split(/\s+/).slice(1, 9).map(Number);
}

/**
 * How busy the host was over a stretch of a run: the share of CPU time taken by other tenants
 * of the host (`steal`), the share busy, and the load average, so a figure can be judged
 * against the contention it was measured under.
 */
export function machineWindow(): () => string {
  const before = cpuTimes();
  return () => {
    const after = cpuTimes();
    const delta = after.map((value, i) => value - (before[i] ?? 0));
    const total = delta.reduce((sum, value) => sum + value, 0) || 1;
    const idle = (delta[3] ?? 0) + (delta[4] ?? 0);
    const steal = delta[7] ?? 0;
    return `host busy ${Math.round((100 * (total - idle)) / total)} %, steal ${Math.round((100 * steal) / total)} %, load ${loadavg()[0]?.toFixed(1)}`;
  };
}
