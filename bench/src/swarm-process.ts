// A local swarm on free ports in its own process, so load generators in the benchmark process
// do not share an event loop with the servers they measure. Prints one JSON line when ready.
import { startLocalSwarm } from '@swarm/client';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: swarm-process.ts <dataDir>');
const swarm = await startLocalSwarm({ dataDir, ports: 'ephemeral', logLevel: false });
process.stdout.write(`${JSON.stringify({ urls: swarm.urls, registry: swarm.registry })}\n`);
const stop = async () => {
  await swarm.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
