import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestNetwork, type TestNetworkOptions } from '@swarm/dev-env';

export interface TestSwarm {
  swarm: TestNetwork;
  dir: string;
  restart(): Promise<TestNetwork>;
  stop(): Promise<void>;
}

/** A whole network on free ports with a data folder that outlives a restart. */
export async function startTestSwarm(options: Pick<TestNetworkOptions, 'secondProviders'> = {}): Promise<TestSwarm> {
  const dir = await mkdtemp(join(tmpdir(), 'swarm-client-'));
  const start = () => TestNetwork.create({ dataDir: join(dir, 'data'), ...options });
  const handle: TestSwarm = {
    swarm: await start(),
    dir,
    async restart() {
      await handle.swarm.close();
      handle.swarm = await start();
      return handle.swarm;
    },
    async stop() {
      await handle.swarm.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

export async function articles(endpointUrl: string, token: string, init: { method?: string; body?: unknown; id?: string } = {}) {
  const response = await fetch(`${endpointUrl}/articles${init.id ? `/${init.id}` : ''}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

const BIN = fileURLToPath(new URL('../bin/swarm.js', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> & { error?: { code: string; message: string } };
}

/** Runs `node bin/swarm.js <args> --json` as a user would, in `cwd`, against `registry`. */
export function runCli(args: string[], options: { registry?: string; cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const env = { ...process.env, ...(options.registry ? { SWARM_REGISTRY: options.registry } : {}) };
    execFile(process.execPath, [BIN, ...args, '--json'], { env, cwd: options.cwd, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      let json = {};
      try {
        json = JSON.parse(stdout);
      } catch {}
      resolve({ code, stdout, stderr, json });
    });
  });
}

/** A CLI step that must succeed; its JSON answer. */
export async function cliOk(args: string[], options: { registry?: string; cwd?: string }): Promise<CliRun['json']> {
  const result = await runCli(args, options);
  if (result.code !== 0) throw new Error(`swarm ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.json;
}

/** Each CLI step starts a Node process (a few seconds on a loaded machine). */
export const SLOW = { timeout: 200_000 };
