// One registry in its own process over a data folder; prints its URL and pid when ready.
import { startRegistry } from '@swarm/registry';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: registry-process.ts <dataDir>');
const registry = await startRegistry({ dataDir, port: 0, dnsPort: false, logLevel: false });
process.stdout.write(`${JSON.stringify({ url: registry.url, pid: process.pid })}\n`);
process.on('SIGTERM', async () => {
  await registry.close();
  process.exit(0);
});
