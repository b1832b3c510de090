import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDeveloper, type TestDeveloper, trustedRegistryOf } from '@swarm/dev-env';
import { type RegistryHandle, startRegistry } from '@swarm/registry';
import { LOOPBACK_CIDRS } from '@swarm/runtime';
import type { ServiceHandle } from '@swarm/service-kit';
import { type StorageBlobOptions, startStorageBlob } from '../src/index.js';

/** A registry and one storage-blob service on loopback, with a developer whose app may provision. */
export interface BlobSetup {
  dir: string;
  /** The service's own data folder (files live under it). */
  dataDir: string;
  registry: RegistryHandle;
  service: ServiceHandle;
  developer: TestDeveloper;
  close(): Promise<void>;
}

export async function startBlobSetup(name: string, extra: Partial<StorageBlobOptions> = {}): Promise<BlobSetup> {
  const dir = mkdtempSync(join(tmpdir(), `swarm-blob-${name}-`));
  const dataDir = join(dir, 'blob');
  // Every part runs on loopback, which a part refuses to send to by default.
  const egress = { allow: LOOPBACK_CIDRS };
  const registry = await startRegistry({ port: 0, dataDir: join(dir, 'registry'), dnsPort: false, logLevel: false, egress });
  const service = await startStorageBlob({
    port: 0,
    dataDir,
    trustedRegistries: [trustedRegistryOf(registry)],
    logLevel: false,
    egress,
    ...extra,
  });
  await service.registerOffer(registry.url, registry.adminToken);
  const developer = await createTestDeveloper(registry.url);
  return {
    dir,
    dataDir,
    registry,
    service,
    developer,
    close: async () => {
      await service.close();
      await registry.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
