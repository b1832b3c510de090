// A network on free ports in its own process, so load generators in the benchmark process
// do not share an event loop with the servers they measure. Prints one JSON line when ready.
import { TestNetwork } from '@swarm/dev-env';

const network = await TestNetwork.create();
process.stdout.write(`${JSON.stringify(network.summary())}\n`);
const stop = async () => {
  await network.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
