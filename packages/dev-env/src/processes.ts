import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's `swarm` CLI, run by path: this package must not depend on the client. */
export const SWARM_BIN = fileURLToPath(new URL('../../client/bin/swarm.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A child process, with the JSON document it printed once ready. */
export interface Part<T = Record<string, unknown>> {
  name: string;
  child: ChildProcess;
  ready: T;
  /** Everything it wrote to stderr so far (when captured): shown when it dies unexpectedly. */
  stderr(): string;
  /** The next line it prints on stdout after its ready document. */
  nextLine(): Promise<string>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** `capture` (default) keeps stderr for error messages; `inherit` shows it live. */
  stderr?: 'capture' | 'inherit';
  /** Open a pipe to its stdin (for processes that take commands there). */
  stdin?: boolean;
  readyTimeoutMs?: number;
}

/**
 * Spawns `node <args>` and resolves with the first complete JSON document it prints on
 * stdout: one line, or the CLI's pretty-printed `--json` summary over several lines.
 */
export function spawnPart<T = Record<string, unknown>>(name: string, args: string[], options: SpawnOptions = {}): Promise<Part<T>> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, SWARM_LOG_LEVEL: 'silent', ...options.env },
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', options.stderr === 'inherit' ? 'inherit' : 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const lines: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  const exit = exited(child);
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      const line = lines.shift();
      if (line !== undefined) return resolve(line);
      waiting.push(resolve);
      exit.then(() => reject(new Error(`${name} exited`)));
    });
  const pushLines = (text: string) => {
    for (const line of text.split('\n').filter((l) => l.length > 0)) {
      const next = waiting.shift();
      if (next) next(line);
      else lines.push(line);
    }
  };
  return new Promise((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} printed no summary within ${readyTimeoutMs} ms: ${stderr}`));
    }, readyTimeoutMs);
    child.stdout?.on('data', (chunk) => {
      if (ready) {
        stdout += chunk;
        const end = stdout.lastIndexOf('\n');
        pushLines(stdout.slice(0, end + 1));
        stdout = stdout.slice(end + 1);
        return;
      }
      stdout += chunk;
      const document = firstDocument(stdout);
      if (!document) return;
      ready = true;
      clearTimeout(timer);
      stdout = document.rest;
      pushLines(stdout.slice(0, stdout.lastIndexOf('\n') + 1));
      stdout = stdout.slice(stdout.lastIndexOf('\n') + 1);
      const summary = document.value as T & { error?: unknown };
      // `--json` prints a failure as `{ error }` too: that is no summary.
      if (summary.error) reject(new Error(`${name} failed to start: ${JSON.stringify(summary.error)} ${stderr}`));
      else resolve({ name, child, ready: summary, stderr: () => stderr, nextLine });
    });
    exit.then(() => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready: ${stderr}`));
    });
  });
}

function firstDocument(text: string): { value: unknown; rest: string } | null {
  const firstLine = text.indexOf('\n');
  const multiLine = text.indexOf('\n}');
  for (const end of [firstLine, multiLine >= 0 ? multiLine + 2 : -1]) {
    if (end < 0) continue;
    try {
      return { value: JSON.parse(text.slice(0, end)), rest: text.slice(end) };
    } catch {}
  }
  return null;
}

/** `swarm <command…> --json`, the way an operator runs each part. */
export function spawnSwarm<T = Record<string, unknown>>(name: string, args: string[], options: SpawnOptions = {}) {
  return spawnPart<T>(name, [SWARM_BIN, ...args, '--json', '--log-level', 'silent'], options);
}

/** `node --import tsx <script> <args…>`: a TypeScript program that prints its JSON summary when ready. */
export function spawnScript<T = Record<string, unknown>>(name: string, script: string, args: string[] = [], options: SpawnOptions = {}) {
  // SWARM_PROFILE_DIR: every spawned part writes a CPU profile there when it exits (docs/PERFORMANCE.md, "Profiling").
  const profile = process.env.SWARM_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SWARM_PROFILE_DIR}`] : [];
  return spawnPart<T>(name, [...profile, '--import', 'tsx', script, ...args], options);
}

/** Resolves once the process has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGKILL: no flush, no goodbye, like a crash or the OOM killer. */
export async function crash(part: Pick<Part<unknown>, 'child'> | undefined): Promise<void> {
  if (!part) return;
  part.child.kill('SIGKILL');
  await exited(part.child);
}

/** SIGTERM, then SIGKILL if it has not stopped after `graceMs`. */
export async function stop(part: Pick<Part<unknown>, 'child'> | undefined, graceMs = 10_000): Promise<void> {
  if (!part || part.child.exitCode !== null || part.child.signalCode !== null) return;
  part.child.kill('SIGTERM');
  const timer = setTimeout(() => part.child.kill('SIGKILL'), graceMs);
  await exited(part.child);
  clearTimeout(timer);
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
