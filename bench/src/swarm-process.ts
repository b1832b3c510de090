// A network on free ports in its own process, so load generators in the benchmark process
// do not share an event loop with the servers they measure. Prints one JSON line when ready.
import { TestNetwork } from '@swarm/dev-env';

// One benchmark client asks from one address as fast as it can: Service DNS's per-prefix rate
// limit (docs/DNS.md) would measure the limit, not the answer, so it is off here.
const network = await TestNetwork.create({ registry: { dnsLimits: { responsesPerSecond: 0 } } });
process.stdout.write(`${JSON.stringify(network.summary())}\n`);
const stop = async () => {
  await network.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
