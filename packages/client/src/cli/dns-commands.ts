import type { Command } from 'commander';
import { delegationRecords, delegationZoneLines } from '../zone-records.js';
import { action, optional } from './common.js';

/** `swarm registry ds`: the records a parent zone adds to delegate the registry's authority, signed. */
export function addRegistryDsCommand(registry: Command): void {
  registry
    .command('ds')
    .description("print the NS, glue and DS records a parent zone adds to delegate to the registry's signed Service DNS")
    .option('--dns <host:port>', "where to ask (default: the --registry host and the registry's announced DNS port)")
    .action(
      action(async (ctx) => {
        const records = await delegationRecords(ctx.client, optional(ctx, 'dns'));
        return {
          json: {
            authority: records.authority,
            ds: records.ds.map((ds) => ({ key_tag: ds.keyTag, algorithm: ds.algorithm, digest_type: ds.digestType, digest: ds.digest })),
            name_servers: records.nameServers,
            glue: records.glue.map(([name, address]) => ({ name, address })),
            zone_lines: delegationZoneLines(records),
          },
          human: delegationZoneLines(records).join('\n'),
        };
      }),
    );
}
