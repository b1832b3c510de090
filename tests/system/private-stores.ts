// A PostgreSQL cluster and a Redis server of the test's own, so that restarting them under load
// disturbs nobody else on the machine.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually, exited, freePort } from '@swarm/dev-env';

export interface PrivatePostgres {
  url: string;
  /** Runs while the caller's event loop goes on, so load keeps flowing through the restart. */
  restart(): Promise<void>;
  /** Stops the cluster and removes its folder. */
  stop(): void;
}

function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) if (existsSync(join(root, version, 'bin', 'initdb'))) return join(root, version, 'bin');
  return null;
}

function which(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why a private PostgreSQL and Redis cannot run here, or null when they can. */
export function privateStoresUnavailable(): string | null {
  if (!postgresBin()) return 'no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: cannot start a private cluster';
  if (!which('redis-server')) return 'redis-server is not installed: cannot start a private Redis';
  if (process.getuid?.() === 0 && !which('runuser')) return 'running as root without runuser: initdb refuses to run as root';
  return null;
}

/** initdb + pg_ctl on a free port, sockets and data in a temp folder; run as `postgres` when we are root. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('no PostgreSQL binaries');
  // Its own folder straight under the temp dir: the `postgres` user cannot enter ours (0700).
  const dir = mkdtempSync(join(tmpdir(), 'swarm-pg-'));
  const data = join(dir, 'pgdata');
  const asRoot = process.getuid?.() === 0;
  const command = (tool: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
  const run = (tool: string, args: string[]) => execFileSync(...command(tool, args), { stdio: 'pipe', timeout: 60_000 });
  const runAsync = async (tool: string, args: string[]) => {
    await promisify(execFile)(...command(tool, args), { timeout: 60_000 });
  };
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const log = join(dir, 'postgres.log');
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    run('pg_ctl', ['-D', data, '-o', options, '-l', log, '-w', '-t', '60', 'start']);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`cannot start a private PostgreSQL: ${stderr || String(error)}`);
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    // `-m fast`: every session is cut at once, as in a failover or a crash-restart.
    restart: () => runAsync('pg_ctl', ['-D', data, '-o', options, '-l', log, '-m', 'fast', '-w', '-t', '60', 'restart']),
    stop: () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrivateRedis {
  url: string;
  /** Killed (SIGKILL) and started again on the same port, empty: it keeps nothing on disk. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let server: ChildProcess | undefined;
  const start = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await eventually(`redis-server on port ${port}`, () => accepts(port), 10_000, 100);
  };
  const kill = async () => {
    if (!server) return;
    server.kill('SIGKILL');
    await exited(server);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    restart: async () => {
      await kill();
      await start();
    },
    stop: kill,
  };
}

function accepts(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });
}
