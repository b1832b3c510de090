// A registry in its own process for the beats benchmark: prints its URL and admin token when ready.
import { startRegistry } from '@swarm/registry';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: beats-registry-process.ts <dataDir>');
const registry = await startRegistry({ dataDir, port: 0, dnsPort: false, logLevel: false });
process.stdout.write(`${JSON.stringify({ url: registry.url, adminToken: registry.adminToken })}\n`);
process.on('SIGTERM', async () => {
  await registry.close();
  process.exit(0);
});
