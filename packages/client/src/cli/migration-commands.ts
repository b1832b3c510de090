import { readFile } from 'node:fs/promises';
import { type MigrationRecord, SwarmError } from '@swarm/protocol';
import type { Command } from 'commander';
import { loadKey } from '../keys.js';
import { controlMigration, type MigrationStep, migrateApp, migrationStatus, vetoMigration } from '../migration.js';
import { action, type CommandContext, integer, option, optional } from './common.js';
import { table, terminalSafe } from './output.js';

/** One progress line per step, as `swarm migrate` prints it while it runs. */
export function stepLine(step: MigrationStep): string {
  switch (step.step) {
    case 'export':
      return `export: ${step.bindings} binding(s) from ${step.source}`;
    case 'prepare':
      return `prepare: ${step.target} holds the app (${step.state})`;
    case 'release':
      return step.skipped ? `release: skipped, ${step.reason}` : `release: the source names ${step.successor} as successor`;
    case 'contest':
      return `contest: no release and no Guardian; activation waits for the contest window to end at ${new Date(step.ends_at * 1000).toISOString()}`;
    case 'activate':
      return `activate: ${step.state} (${step.path} path)`;
    case 'notify':
      return `notify: ${step.delivered}/${step.total} part(s) took the proven move${step.failed.length > 0 ? `; not reached: ${step.failed.join(', ')}` : ''}`;
    case 'rebound':
      return `re-bound ${step.rebound}/${step.total}`;
  }
}

function recordText(record: MigrationRecord): string {
  const head = `${record.app_id}: ${record.state} (from ${record.source}, ${record.path} path)`;
  const window = record.contest_ends_at === null ? '' : `\ncontest window ends ${new Date(record.contest_ends_at * 1000).toISOString()}`;
  const rows = record.instances.map((instance) => [instance.service_id, instance.state]);
  return `${head}${window}${rows.length > 0 ? `\n${table(['service_id', 'state'], rows)}` : ''}`;
}

const target = (ctx: CommandContext) => ({ registry: ctx.client.registry });

/**
 * The parent's options are parsed wherever they appear, so the subcommands declare theirs as
 * plain options (the same names) and `option()` reports a missing one.
 *
 * `swarm migrate --app --to URL --key` (docs/REGISTRY.md, "Migration"): `--registry` is the
 * source; `status`, `abort` and `veto` speak to the target given as `--registry`.
 */
export function addMigrationCommands(program: Command): void {
  const migrate = program
    .command('migrate')
    .description(
      'move an app to another App Registry (export → prepare → release → activate → wait for re-binds); --registry is the source. ' +
        'With the source gone and no --guardian, the first run prepares and reports when the contest window ends; a run after it activates',
    )
    .option('--app <app_id>', 'the app to move')
    .option('--to <url>', 'the target registry URL')
    .option('--key <file>', 'Master private key')
    .option('--guardian <file>', 'a Guardian private key: its co-signature lets the move complete without the source')
    .option('--export <file>', 'a saved export (swarm export), when the source registry is gone')
    .option('--wait <seconds>', 'how long to wait for every instance to re-bind at the target', integer, 120)
    .action(
      action(async (ctx) => {
        const appId = option(ctx, 'app');
        const exportFile = optional(ctx, 'export');
        const guardianFile = optional(ctx, 'guardian');
        const lines: string[] = [];
        const result = await migrateApp({
          appId,
          source: ctx.client,
          target: option(ctx, 'to'),
          master: await loadKey(option(ctx, 'key')),
          ...(guardianFile ? { guardian: await loadKey(guardianFile) } : {}),
          ...(exportFile ? { exportDocument: await readExport(exportFile) } : {}),
          waitSeconds: ctx.opts.wait as number,
          onStep: (step) => {
            const line = stepLine(step);
            lines.push(line);
            if (!ctx.json) process.stdout.write(`${terminalSafe(line)}\n`);
          },
        });
        if (result.status === 'contest') {
          const ends = new Date((result.contest_ends_at ?? 0) * 1000).toISOString();
          const human = `${appId} is prepared at ${result.target}; run the same command again after ${ends} to activate it (a Guardian may veto until then)`;
          return { json: { ...result, steps: lines }, human };
        }
        if (result.not_rebound.length > 0) process.exitCode = 1;
        const summary =
          result.not_rebound.length === 0
            ? `${appId} moved from ${result.source} to ${result.target}; every instance re-bound`
            : `${appId} moved from ${result.source} to ${result.target}; not re-bound within ${String(ctx.opts.wait)} s: ${result.not_rebound.join(', ')}`;
        return { json: { ...result, steps: lines }, human: summary };
      }),
    );

  migrate
    .command('status')
    .description("the move's state at the target (--registry is the target)")
    .option('--app <app_id>', 'the app')
    .action(
      action(async (ctx) => {
        const record = await migrationStatus(target(ctx), option(ctx, 'app'));
        return { json: record, human: recordText(record) };
      }),
    );

  migrate
    .command('abort')
    .description('cancel a move before activation; nothing at the source changes (--registry is the target)')
    .option('--app <app_id>', 'the app')
    .option('--key <file>', 'Master private key')
    .action(
      action(async (ctx) => {
        const record = await controlMigration(target(ctx), option(ctx, 'app'), 'abort', await loadKey(option(ctx, 'key')));
        return { json: record, human: recordText(record) };
      }),
    );

  migrate
    .command('veto')
    .description('a Guardian refuses a move before activation, for good (--registry is the target)')
    .option('--app <app_id>', 'the app')
    .option('--guardian <file>', 'a Guardian private key of the app')
    .action(
      action(async (ctx) => {
        const record = await vetoMigration(target(ctx), option(ctx, 'app'), await loadKey(option(ctx, 'guardian')));
        return { json: record, human: recordText(record) };
      }),
    );
}

async function readExport(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new SwarmError('invalid_request', `cannot read the export in ${file}`, { cause });
  }
}
