import { execFileSync, spawnSync } from 'node:child_process';

/** Why the dig cases skip, or false where dig is installed (CI installs it). */
export const digMissing: string | false =
  spawnSync('dig', ['-v'], { stdio: 'ignore' }).error === undefined ? false : 'dig is not on PATH (Debian: apt-get install dnsutils)';

export interface DigAnswer {
  status: string;
  flags: string[];
  answers: string[];
}

/** A stock `dig` against the registry's Service DNS (SPEC §7). */
export function dig(port: number, name: string, type: string, ...options: string[]): DigAnswer {
  const output = execFileSync('dig', ['@127.0.0.1', '-p', String(port), name, type, '+time=5', '+tries=1', ...options], {
    encoding: 'utf8',
  });
  const status = /status: ([A-Z]+)/.exec(output)?.[1] ?? 'none';
  const flags = (/;; flags: ([a-z ]+);/.exec(output)?.[1] ?? '').trim().split(/\s+/);
  const answers: string[] = [];
  let inAnswer = false;
  for (const line of output.split('\n')) {
    if (line.startsWith(';; ANSWER SECTION')) inAnswer = true;
    else if (inAnswer && line.trim() === '') inAnswer = false;
    else if (inAnswer && !line.startsWith(';')) answers.push(line.trim());
  }
  return { status, flags, answers };
}

/** `local.swarm.alice.shop.7f8a9d` → `7f8a9d.shop.alice.swarm.local.` */
export const zoneOf = (appId: string): string => `${appId.split('.').reverse().join('.')}.`;
