import type { LogEntry, LogsAnswer, UsageSummary } from '@swarm/protocol';
import type { Command } from 'commander';
import { catalog } from '../catalog.js';
import { decommission } from '../decommission.js';
import { loadKey } from '../keys.js';
import { type MoveProgress, moveInstance } from '../move.js';
import { provision } from '../provision.js';
import { logs, usage } from '../reports.js';
import { services } from '../services.js';
import { updateInstance } from '../update.js';
import { action, integer, option, optional } from './common.js';
import { fields, table } from './output.js';
import { type Spinner, startSpinner } from './spinner.js';

export function addServiceCommands(program: Command): void {
  program
    .command('catalog [service_type]')
    .description('the providers the registry offers, all or of one type')
    .action(
      action(async (ctx, serviceType?: string) => {
        const offers = await catalog(ctx.client, serviceType);
        const rows = offers.map((o) => [
          o.service_type,
          o.provider,
          o.tiers.map((t) => `${t.name} (≤${t.storage_limit_gb_max} GB)`).join(', '),
          o.regions.join(', '),
          o.provision_url,
        ]);
        return { json: { services: offers }, human: table(['type', 'provider', 'tiers', 'regions', 'provision_url'], rows) };
      }),
    );

  program
    .command('provision <service_type>')
    .description('provision a domain service for the app; waits until it is bound')
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .requiredOption('--tier <tier>', 'a tier of the offer (see `swarm catalog`)')
    .requiredOption('--region <region>', 'a region of the offer')
    .option('--storage-gb <n>', 'storage limit in GB (default: the tier default)', integer)
    .option('--provider <name>', 'a provider of the type (default: the first in the catalog)')
    .action(
      action(async (ctx, serviceType: string) => {
        const master = await loadKey(option(ctx, 'key'));
        const storageGb = ctx.opts.storageGb as number | undefined;
        const provider = optional(ctx, 'provider');
        const spinner: Spinner | null = ctx.json ? null : startSpinner(`provisioning ${serviceType}`);
        try {
          const instance = await provision(ctx.client, {
            appId: option(ctx, 'app'),
            serviceType,
            master,
            tier: option(ctx, 'tier'),
            region: option(ctx, 'region'),
            ...(storageGb === undefined ? {} : { storageGb }),
            ...(provider ? { provider } : {}),
            onProgress: (answer) => spinner?.update(`${answer.service_id}: ${answer.status}`),
          });
          spinner?.succeed(`${instance.service_id} is ${instance.status}`);
          return { json: instance, human: fields({ ...instance }) };
        } catch (error) {
          spinner?.fail('provisioning failed');
          throw error;
        }
      }),
    );

  program
    .command('update <service_id>')
    .description("change a running instance's tier or storage limit; waits until the registry lists it")
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .option('--tier <tier>', 'the new tier (default: the current one)')
    .option('--storage-gb <n>', 'the new storage limit in GB (default: the current one, or the new tier default)', integer)
    .action(
      action(async (ctx, serviceId: string) => {
        const master = await loadKey(option(ctx, 'key'));
        const storageGb = ctx.opts.storageGb as number | undefined;
        const tier = optional(ctx, 'tier');
        const spinner: Spinner | null = ctx.json ? null : startSpinner(`updating ${serviceId}`);
        try {
          const update = await updateInstance(ctx.client, {
            appId: option(ctx, 'app'),
            serviceId,
            master,
            ...(tier ? { tier } : {}),
            ...(storageGb === undefined ? {} : { storageGb }),
            onProgress: (answer) => spinner?.update(`${serviceId}: update ${answer.status}`),
          });
          spinner?.succeed(`${serviceId} is ${update.service_tier}, ${update.storage_limit_gb} GB`);
          return { json: update, human: fields({ ...update }) };
        } catch (error) {
          spinner?.fail('update refused');
          throw error;
        }
      }),
    );

  program
    .command('move <service_id>')
    .description('move an instance to another provider with its data; the old one is decommissioned once the copy checks out')
    .requiredOption('--to <provider>', 'the provider to move to (see `swarm catalog <service_type>`)')
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key (or a delegated key granted provision, update and decommission)')
    .option('--tier <tier>', "the new instance's tier (default: the current one)")
    .option('--region <region>', "the new instance's region (default: the current one)")
    .option('--storage-gb <n>', "the new instance's storage limit in GB (default: the current one)", integer)
    .option('--into <service_id>', 'resume a move that failed into the instance it left at the new provider')
    .action(
      action(async (ctx, serviceId: string) => {
        const master = await loadKey(option(ctx, 'key'));
        const storageGb = ctx.opts.storageGb as number | undefined;
        const tier = optional(ctx, 'tier');
        const region = optional(ctx, 'region');
        const into = optional(ctx, 'into');
        const receipt = await moveInstance(ctx.client, {
          appId: option(ctx, 'app'),
          serviceId,
          master,
          to: option(ctx, 'to'),
          ...(tier ? { tier } : {}),
          ...(region ? { region } : {}),
          ...(storageGb === undefined ? {} : { storageGb }),
          ...(into ? { into } : {}),
          onProgress: ctx.json ? undefined : progressLines(),
        });
        const human = fields({
          moved: `${receipt.from.service_id} (${receipt.from.provider}) → ${receipt.to.service_id} (${receipt.to.provider})`,
          endpoint_url: receipt.to.endpoint_url,
          items: receipt.items,
          digest: receipt.digest,
          move_id: receipt.move_id,
          receipt: receipt.receipt?.data.receipt_id ?? 'none',
        });
        return { json: receipt, human };
      }),
    );

  program
    .command('services <app_id>')
    .description("the app's bound instances (Service DNS)")
    .option('--type <service_type>', 'only this type')
    .action(
      action(async (ctx, appId: string) => {
        const records = await services(ctx.client, appId, optional(ctx, 'type'));
        const rows = records.map((r) => [
          r.service_id,
          r.service_type,
          r.provider,
          r.service_tier,
          r.region,
          r.storage_limit_gb ?? '-',
          r.health ?? r.status,
          r.updated_at === undefined ? '-' : new Date(r.updated_at * 1000).toISOString(),
          r.endpoint_url,
        ]);
        const human =
          rows.length === 0
            ? 'no services yet'
            : table(['service_id', 'type', 'provider', 'tier', 'region', 'storage_gb', 'health', 'changed', 'endpoint_url'], rows);
        return { json: { app_id: appId, records }, human };
      }),
    );

  program
    .command('usage')
    .description("the app's usage as counted by its Billing service")
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .option('--service <service_id>', 'only this instance')
    .action(
      action(async (ctx) => {
        const master = await loadKey(option(ctx, 'key'));
        const serviceId = optional(ctx, 'service');
        const answer = await usage(ctx.client, { appId: option(ctx, 'app'), master, ...(serviceId ? { serviceId } : {}) });
        return { json: answer, human: renderUsage(answer) };
      }),
    );

  program
    .command('logs')
    .description("the app's logs from its Logging service")
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .option('--service <service_id>', 'only this instance')
    .option('--level <level>', 'only this level: debug, info, warn, error or fatal')
    .action(
      action(async (ctx) => {
        const master = await loadKey(option(ctx, 'key'));
        const serviceId = optional(ctx, 'service');
        const level = optional(ctx, 'level') as LogEntry['level'] | undefined;
        const answer = await logs(ctx.client, {
          appId: option(ctx, 'app'),
          master,
          ...(serviceId ? { serviceId } : {}),
          ...(level ? { level } : {}),
        });
        return { json: answer, human: renderLogs(answer) };
      }),
    );

  program
    .command('decommission <service_id>')
    .description('terminate an instance at its provider, then revoke it at the registry with the receipt')
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .option('--retain', "keep the instance's data at the provider (default: wipe)")
    .option('--emergency', 'revoke at the registry only, without the provider (compromised or unresponsive service)')
    .action(
      action(async (ctx, serviceId: string) => {
        const master = await loadKey(option(ctx, 'key'));
        const result = await decommission(ctx.client, {
          appId: option(ctx, 'app'),
          serviceId,
          master,
          retain: ctx.opts.retain === true,
          emergency: ctx.opts.emergency === true,
        });
        const how = result.receipt ? `receipt ${result.receipt.data.receipt_id}` : 'emergency revocation, no receipt';
        return { json: result, human: `decommissioned ${serviceId} (${how})` };
      }),
    );
}

/** One line per step on stderr, and one per change of the copy's count while it runs. */
function progressLines(stream: NodeJS.WriteStream = process.stderr): (progress: MoveProgress) => void {
  let copied = -1;
  return (progress) => {
    if (progress.step === 'provisioned') stream.write(`provisioned ${progress.instance.service_id}\n`);
    if (progress.step === 'transfer' && progress.status.items_copied !== copied) {
      copied = progress.status.items_copied;
      stream.write(`copying: ${copied} items in ${progress.status.pages} pages (${progress.status.status})\n`);
    }
    if (progress.step === 'verified') stream.write(`verified: ${progress.summary.items} items, digest ${progress.summary.digest}\n`);
    if (progress.step === 'switched') stream.write(`switched: ${progress.decommission.service_id} decommissioned\n`);
  };
}

function renderUsage(answer: UsageSummary): string {
  if (answer.reports === 0) return `no usage reported for ${answer.app_id} yet (services report at least every 10 s)`;
  const span = answer.period
    ? `${new Date(answer.period.start * 1000).toISOString()} – ${new Date(answer.period.end * 1000).toISOString()}`
    : '-';
  return [
    `usage of ${answer.app_id}: ${answer.reports} report${answer.reports === 1 ? '' : 's'}, ${span}`,
    table(
      ['metric', 'total'],
      answer.app_totals.map((t) => [t.metric, t.value]),
    ),
    table(
      ['service_id', 'metric', 'value'],
      answer.totals.map((t) => [t.service_id, t.metric, t.value]),
    ),
  ].join('\n\n');
}

function renderLogs(answer: LogsAnswer): string {
  if (answer.entries.length === 0) return `no logs for ${answer.app_id}`;
  const rows = answer.entries.map((e) => [
    new Date(e.at * 1000).toISOString(),
    e.level,
    e.service_id,
    e.message,
    e.fields ? JSON.stringify(e.fields) : '',
  ]);
  return table(['at', 'level', 'service_id', 'message', 'fields'], rows);
}
