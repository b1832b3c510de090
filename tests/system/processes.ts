import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SWARM_BIN = join(ROOT, 'packages/client/bin/swarm.js');
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** A process of the system under test, with what it printed once ready. */
export interface Part<T = Record<string, unknown>> {
  name: string;
  child: ChildProcess;
  ready: T;
  /** Everything it wrote to stderr so far: shown when it dies unexpectedly. */
  stderr(): string;
}

const READY_TIMEOUT_MS = 90_000;

/**
 * Spawns `node <args>` and resolves with the first complete JSON document it prints on
 * stdout (the CLI's `--json` summary is pretty-printed over several lines).
 */
export function spawnPart<T = Record<string, unknown>>(
  name: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Part<T>> {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, SWARM_LOG_LEVEL: 'silent', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} printed no summary within ${READY_TIMEOUT_MS} ms: ${stderr}`));
    }, READY_TIMEOUT_MS);
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      const end = stdout.indexOf('\n}');
      const candidate = end >= 0 ? stdout.slice(0, end + 2) : stdout.trim();
      try {
        const ready = JSON.parse(candidate) as T & { error?: unknown };
        clearTimeout(timer);
        // `--json` prints a failure as `{ error }` too: that is no summary.
        if (ready.error) reject(new Error(`${name} failed to start: ${JSON.stringify(ready.error)} ${stderr}`));
        else resolve({ name, child, ready, stderr: () => stderr });
      } catch {}
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready: ${stderr}`));
    });
  });
}

/** `swarm <command…> --json`, the way an operator runs each part. */
export function spawnSwarm<T = Record<string, unknown>>(
  name: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  return spawnPart<T>(name, [SWARM_BIN, ...args, '--json', '--log-level', 'silent'], options);
}

/** `node --import tsx tests/system/fixtures/<script>` with one JSON argument. */
export function spawnFixture<T = Record<string, unknown>>(name: string, script: string, config: object) {
  return spawnPart<T>(name, ['--import', 'tsx', join(FIXTURES, script), JSON.stringify(config)]);
}

/** Resolves once the process has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGKILL: no flush, no goodbye, like a crash or the OOM killer. */
export async function crash(part: Part<unknown> | undefined): Promise<void> {
  if (!part) return;
  part.child.kill('SIGKILL');
  await exited(part.child);
}

/** SIGTERM, then SIGKILL if it has not stopped after `graceMs`. */
export async function stop(part: Part<unknown> | undefined, graceMs = 10_000): Promise<void> {
  if (!part || part.child.exitCode !== null || part.child.signalCode !== null) return;
  part.child.kill('SIGTERM');
  const timer = setTimeout(() => part.child.kill('SIGKILL'), graceMs);
  await exited(part.child);
  clearTimeout(timer);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** A port with the next `count - 1` free too (`swarm backbone` takes three in a row). */
export async function freePortRun(count: number): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await canListen(base + i);
    if (free) return base;
  }
}

/** A temp folder removed by `remove()`. */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `swarm-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
