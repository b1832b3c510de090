// One registry in its own process over a data folder; prints its URL and pid when ready.
import { startRegistry } from '@swarm/registry';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: registry-process.ts <dataDir>');
// The answer cache is off: these registries measure the database at size, not the cache.
const registry = await startRegistry({ dataDir, port: 0, dnsPort: false, logLevel: false, lookupCacheEntries: 0 });
process.stdout.write(`${JSON.stringify({ url: registry.url, pid: process.pid })}\n`);
process.on('SIGTERM', async () => {
  await registry.close();
  process.exit(0);
});
