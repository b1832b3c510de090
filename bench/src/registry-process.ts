// One registry in its own process; prints its URL, pid, admin token and DNS port when ready.
// Its options come as one JSON argument (RegistryOptions), so each bench says what it measures.
import { type RegistryOptions, startRegistry } from '@swarm/registry';

const options = JSON.parse(process.argv[2] ?? 'null') as RegistryOptions | null;
if (!options) throw new Error('usage: registry-process.ts <RegistryOptions as JSON>');
const registry = await startRegistry({ port: 0, logLevel: false, ...options });
process.stdout.write(
  `${JSON.stringify({ url: registry.url, pid: process.pid, adminToken: registry.adminToken, dnsPort: registry.dnsPort })}\n`,
);
process.on('SIGTERM', async () => {
  await registry.close();
  process.exit(0);
});
