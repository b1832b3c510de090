import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnScript, stop } from '@swarm/dev-env';
import { appDnsZone, encodePublicKey } from '@swarm/protocol';
import SQLite from 'better-sqlite3';
import { type BenchResult, result } from './harness.js';
import { compareHttp, spreadOf } from './http-load.js';

interface RegistryProcess {
  url: string;
  pid: number;
  child: ChildProcess;
}

async function startRegistryProcess(dataDir: string): Promise<RegistryProcess> {
  const script = fileURLToPath(new URL('./registry-process.ts', import.meta.url));
  const part = await spawnScript<{ url: string; pid: number }>('registry', script, [dataDir], { stderr: 'inherit' });
  return { ...part.ready, child: part.child };
}

function residentMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/**
 * Fills a registry database straight through SQLite, in one transaction: `apps` apps in
 * `apps / 100` namespaces, `bindingsPerApp` healthy instances each. Returns one app id to query.
 */
function fill(dataDir: string, apps: number, bindingsPerApp: number): string {
  const db = new SQLite(join(dataDir, 'registry.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const now = Math.floor(Date.now() / 1000);
  const key = encodePublicKey(randomBytes(32));
  const insertNamespace = db.prepare(
    `INSERT INTO namespaces (namespace, public_key, guardian_public_keys, contact_email, metadata, status, created_at, updated_at)
     VALUES (?, ?, ?, 'bench@swarm.local', NULL, 'active', ?, ?)`,
  );
  const insertApp = db.prepare(
    `INSERT INTO apps (app_id, zone, owner_namespace, project_slug, display_name, description, status, created_at, config_epoch,
       auth_provider_url, auth_public_key, auth_previous_public_key, auth_previous_expires_at, billing_provider_url, logging_service_url,
       services, log_seq, log_hash)
     VALUES (?, ?, ?, ?, ?, NULL, 'active', ?, 1, NULL, NULL, NULL, NULL, NULL, NULL, '{}', 0, ?)`,
  );
  const insertBinding = db.prepare(
    `INSERT INTO bindings (app_id, service_id, provider, service_type, endpoint_url, public_key, previous_public_key,
       previous_key_expires_at, service_tier, region, storage_limit_gb, bound_at, status, proof_hash, last_heartbeat_at,
       heartbeat_status, revoked_at)
     VALUES (?, ?, 'article.cms.local', 'cms-article', ?, ?, NULL, NULL, 'free', 'local', 1, ?, 'active', ?, ?, 'ok', NULL)`,
  );
  let probe = '';
  db.transaction(() => {
    for (let a = 0; a < apps; a++) {
      const namespace = `ns${Math.floor(a / 100)}`;
      if (a % 100 === 0) insertNamespace.run(namespace, key, JSON.stringify([key]), now, now);
      const appId = `local.swarm.${namespace}.app${a}.${a.toString(36).padStart(6, '0')}`;
      if (a === Math.floor(apps / 2)) probe = appId;
      insertApp.run(appId, appDnsZone(appId).slice(0, -1), namespace, `app${a}`, `App ${a}`, now, '0'.repeat(64));
      for (let b = 0; b < bindingsPerApp; b++) {
        const serviceId = `cms-article-${a.toString(36)}x${b.toString(36)}`;
        insertBinding.run(appId, serviceId, `http://127.0.0.1:7410/i/${serviceId}/api/v1`, key, now, `${a}:${b}`, now + 86400 * 365);
      }
    }
  })();
  db.close();
  return probe;
}

/**
 * Service DNS lookups per second on a registry holding `apps` apps and `apps × bindingsPerApp`
 * bindings, against the same lookup on a registry holding 10; plus that registry's memory.
 */
export async function benchGrowth(apps = Number(process.env.BENCH_GROWTH_APPS ?? 100_000), bindingsPerApp = 10): Promise<BenchResult[]> {
  const smallDir = mkdtempSync(join(tmpdir(), 'swarm-growth-small-'));
  const largeDir = mkdtempSync(join(tmpdir(), 'swarm-growth-large-'));
  try {
    // Start once on each folder so the migrations create the tables, then fill them.
    for (const dir of [smallDir, largeDir]) await stop(await startRegistryProcess(dir));
    const smallApp = fill(smallDir, 1, 10);
    const started = performance.now();
    const largeApp = fill(largeDir, apps, bindingsPerApp);
    process.stderr.write(
      `  filled ${apps} apps / ${apps * bindingsPerApp} bindings in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
    const small = await startRegistryProcess(smallDir);
    const large = await startRegistryProcess(largeDir);
    try {
      const lookup = (registry: RegistryProcess, appId: string) => ({
        url: `${registry.url}/v1/apps/${encodeURIComponent(appId)}/services`,
      });
      const comparison = await compareHttp(lookup(large, largeApp), lookup(small, smallApp));
      const { subject: atSize, baseline: atTen } = comparison;
      const memoryLarge = residentMb(large.pid);
      const memorySmall = residentMb(small.pid);
      return [
        result(
          `Service DNS lookup with ${apps} apps / ${apps * bindingsPerApp} bindings (answer cache off)`,
          atSize.perSecond,
          'req/s',
          'same lookup with 10 bindings',
          atTen.perSecond,
          0.8,
          `p99 ${atSize.p99Ms} ms vs ${atTen.p99Ms} ms; ${spreadOf(comparison.ratios)}`,
        ),
        result(`registry resident memory at that size`, memoryLarge, 'MiB', 'registry with 10 bindings', memorySmall, null),
      ];
    } finally {
      await stop(large);
      await stop(small);
    }
  } finally {
    rmSync(smallDir, { recursive: true, force: true });
    rmSync(largeDir, { recursive: true, force: true });
  }
}
