import { createHash } from 'node:crypto';
import type { Json } from './http.js';
import { jcs } from './keys.js';

const GENESIS = '0'.repeat(64);

/** Checks an audit chain as documented for the registry: `hash` = SHA-256 of `swarm/1.0/audit\n` + JCS(entry without hash). */
export function auditProblems(entries: Json[]): string[] {
  const problems: string[] = [];
  let previous = GENESIS;
  entries.forEach((entry, index) => {
    const { hash, ...rest } = entry;
    if (entry.seq !== index + 1) problems.push(`seq ${entry.seq} at ${index}`);
    if (entry.prev_hash !== previous) problems.push(`prev_hash at seq ${entry.seq}`);
    const expected = createHash('sha256')
      .update(`swarm/1.0/audit\n${jcs(rest)}`, 'utf8')
      .digest('hex');
    if (hash !== expected) problems.push(`hash at seq ${entry.seq}`);
    previous = hash;
  });
  return problems;
}
