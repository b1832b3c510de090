#!/usr/bin/env node
// Runs every `*.test.ts` under packages/, services/ and bench/ with node's test runner (tsx
// loads TypeScript). Suites that need PostgreSQL or Redis skip, and say so, unless
// SWARM_TEST_POSTGRES_URL / SWARM_TEST_REDIS_URL are set (.ci/run sets both).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const roots = ['packages', 'services', 'bench', 'tests'];
const filter = process.argv.slice(2);
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts') && (filter.length === 0 || filter.some((f) => path.includes(f)))) files.push(path);
  }
}
for (const root of roots) {
  try {
    walk(root);
  } catch {}
}
files.sort();
if (!process.env.SWARM_TEST_POSTGRES_URL) console.log('note: SWARM_TEST_POSTGRES_URL is not set: PostgreSQL suites are skipped');
if (!process.env.SWARM_TEST_REDIS_URL) console.log('note: SWARM_TEST_REDIS_URL is not set: Redis suites are skipped');
// The spec reporter prints as tests run; the skip reporter collects why anything skipped.
const skipsFile = join(mkdtempSync(join(tmpdir(), 'swarm-skips-')), 'skips.txt');
const skipReporter = new URL('./skip-reporter.mjs', import.meta.url).href;
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-timeout=240000',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${skipReporter}`,
    `--test-reporter-destination=${skipsFile}`,
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, SWARM_LOG_LEVEL: process.env.SWARM_LOG_LEVEL ?? 'silent' } },
);
let skips = '';
try {
  skips = readFileSync(skipsFile, 'utf8');
} catch {}
console.log(skips === '' ? 'nothing skipped' : `skipped, by reason:\n${skips.trimEnd()}`);
rmSync(dirname(skipsFile), { recursive: true, force: true });
process.exit(result.status ?? 1);
