import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Part, spawnScript, stop } from '@swarm/dev-env';
import type { RegistryOptions } from '@swarm/registry';

export interface RegistryProcess {
  url: string;
  pid: number;
  adminToken: string;
  dnsPort: number | null;
  part: Part;
  stop(): Promise<void>;
}

/** A registry in its own process (registry-process.ts), so the load does not share its event loop. */
export async function startRegistryProcess(options: RegistryOptions): Promise<RegistryProcess> {
  const script = fileURLToPath(new URL('./registry-process.ts', import.meta.url));
  const part = await spawnScript<Omit<RegistryProcess, 'part' | 'stop'>>('registry', script, [JSON.stringify(options)], {
    stderr: 'inherit',
  });
  return { ...part.ready, part: part as unknown as Part, stop: () => stop(part) };
}

export function residentMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}
