import { DELEGABLE_ACTIONS, type DelegableAction, type DelegationRecord, SwarmError } from '@swarm/protocol';
import type { Command } from 'commander';
import { delegate, delegations, parseExpiry, revokeDelegation } from '../delegations.js';
import { loadKey } from '../keys.js';
import { action, option, optional } from './common.js';
import { fields, table } from './output.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function actionsOf(text: string): DelegableAction[] {
  const actions = text
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  for (const name of actions) {
    if (!(DELEGABLE_ACTIONS as readonly string[]).includes(name)) {
      throw new SwarmError('invalid_request', `--actions: ${name} is not one of ${DELEGABLE_ACTIONS.join(', ')}`);
    }
  }
  return actions as DelegableAction[];
}

const row = (d: DelegationRecord) => [
  d.delegation_id,
  d.status,
  d.public_key,
  d.actions.join(','),
  d.apps.join(','),
  new Date(d.expires_at * 1000).toISOString(),
];

export function addDelegationCommands(program: Command): void {
  program
    .command('delegate')
    .description('let another key (CI, a teammate) sign listed actions on listed apps until an expiry; Master key only')
    .requiredOption('--namespace <name>', 'your namespace')
    .requiredOption('--key <file>', 'Master private key')
    .requiredOption('--app <app_id>', 'an app the grant covers (repeat for several)', collect)
    .requiredOption('--actions <list>', `comma-separated: ${DELEGABLE_ACTIONS.join(', ')}`)
    .requiredOption('--expires <when>', 'a duration (30m, 12h, 7d; at most 90d) or an ISO 8601 time')
    .option('--delegate-key <file>', 'the delegated private key (only its public half is sent)')
    .option('--public-key <key>', 'the delegated public key (ed25519:…), instead of --delegate-key')
    .action(
      action(async (ctx) => {
        const master = await loadKey(option(ctx, 'key'));
        const file = optional(ctx, 'delegateKey');
        const publicKey = file ? (await loadKey(file)).publicKey : optional(ctx, 'publicKey');
        if (!publicKey) throw new SwarmError('invalid_request', 'name the delegated key with --delegate-key FILE or --public-key');
        const granted = await delegate(ctx.client, {
          namespace: option(ctx, 'namespace'),
          master,
          publicKey,
          apps: ctx.opts.app as string[],
          actions: actionsOf(option(ctx, 'actions')),
          expiresAt: parseExpiry(option(ctx, 'expires')),
        });
        return { json: granted, human: `delegation ${granted.delegation_id}\n${fields({ ...granted })}` };
      }),
    );

  program
    .command('delegations')
    .description("the namespace's delegations: in force, expired and revoked")
    .requiredOption('--namespace <name>', 'the namespace')
    .action(
      action(async (ctx) => {
        const list = await delegations(ctx.client, option(ctx, 'namespace'));
        const human =
          list.length === 0
            ? 'no delegations'
            : table(['delegation_id', 'status', 'public_key', 'actions', 'apps', 'expires'], list.map(row));
        return { json: { delegations: list }, human };
      }),
    );

  program
    .command('revoke-delegation <delegation_id>')
    .description('revoke a delegation at once; Master key only')
    .requiredOption('--namespace <name>', 'your namespace')
    .requiredOption('--key <file>', 'Master private key')
    .action(
      action(async (ctx, delegationId: string) => {
        const master = await loadKey(option(ctx, 'key'));
        const revoked = await revokeDelegation(ctx.client, { namespace: option(ctx, 'namespace'), master, delegationId });
        return { json: revoked, human: `delegation ${revoked.delegation_id} is ${revoked.status}` };
      }),
    );
}
