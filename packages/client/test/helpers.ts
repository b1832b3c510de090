import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalSwarm, startLocalSwarm } from '../src/index.js';

export interface TestSwarm {
  swarm: LocalSwarm;
  dir: string;
  restart(): Promise<LocalSwarm>;
  stop(): Promise<void>;
}

/** A whole local swarm on free ports with a throwaway data folder. */
export async function startTestSwarm(): Promise<TestSwarm> {
  const dir = await mkdtemp(join(tmpdir(), 'swarm-client-'));
  const start = () => startLocalSwarm({ dataDir: join(dir, 'data'), ports: 'ephemeral', logLevel: false });
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
