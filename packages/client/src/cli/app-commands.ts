import { writeFile } from 'node:fs/promises';
import { SwarmError } from '@swarm/protocol';
import type { Command } from 'commander';
import { operation, updateApp } from '../app-changes.js';
import { exportApp } from '../app-export.js';
import { backboneUpdate, listApps, registerApp } from '../apps.js';
import { auditPage, verifyAuditAcross } from '../audit.js';
import { loadKey } from '../keys.js';
import { provisionAuth } from '../provision.js';
import { retireApp } from '../retire.js';
import { userToken } from '../tokens.js';
import { action, integer, option, optional } from './common.js';
import { fields, table } from './output.js';

export function addAppCommands(program: Command): void {
  program
    .command('apps')
    .description("a namespace's apps")
    .requiredOption('--namespace <name>', 'the namespace')
    .action(
      action(async (ctx) => {
        const namespace = option(ctx, 'namespace');
        const apps = await listApps(ctx.client, namespace);
        const rows = apps.map((a) => [a.app_id, a.status, a.config_epoch, a.display_name]);
        return {
          json: { namespace, apps },
          human: apps.length === 0 ? `no apps in ${namespace}` : table(['app_id', 'status', 'epoch', 'name'], rows),
        };
      }),
    );

  const app = program.command('app').description('applications');
  app
    .command('register <slug>')
    .description('register an app in your namespace; prints its app_id')
    .requiredOption('--namespace <name>', 'your namespace')
    .requiredOption('--key <file>', 'Master private key')
    .option('--name <display_name>', 'display name (default: the slug)')
    .option('--description <text>', 'what the app is')
    .action(
      action(async (ctx, slug: string) => {
        const master = await loadKey(option(ctx, 'key'));
        const name = optional(ctx, 'name');
        const description = optional(ctx, 'description');
        const record = await registerApp(ctx.client, {
          namespace: option(ctx, 'namespace'),
          slug,
          master,
          ...(name ? { displayName: name } : {}),
          ...(description ? { description } : {}),
        });
        return { json: record, human: `registered app ${record.app_id}\n${fields({ ...record })}` };
      }),
    );

  app
    .command('update <app_id>')
    .description("change the app's display data (Master key); its id, namespace, slug and keys never change")
    .requiredOption('--key <file>', 'Master private key')
    .option('--display-name <name>', 'the new display name')
    .option('--description <text>', 'the new description ("" clears it)')
    .action(
      action(async (ctx, appId: string) => {
        const master = await loadKey(option(ctx, 'key'));
        const displayName = ctx.opts.displayName as string | undefined;
        const description = ctx.opts.description as string | undefined;
        const updated = await updateApp(ctx.client, {
          appId,
          master,
          ...(displayName === undefined ? {} : { displayName }),
          ...(description === undefined ? {} : { description: description === '' ? null : description }),
        });
        return {
          json: updated,
          human: `updated app ${updated.app_id} (operation ${updated.audit_seq})\n${fields({
            display_name: updated.display_name,
            description: updated.description ?? '-',
          })}`,
        };
      }),
    );

  app
    .command('retire <app_id>')
    .description('retire an app once its instances are decommissioned; its app_id and slug stay taken, its audit log readable')
    .requiredOption('--key <file>', 'Master private key')
    .action(
      action(async (ctx, appId: string) => {
        const master = await loadKey(option(ctx, 'key'));
        const retired = await retireApp(ctx.client, { appId, master });
        return { json: retired, human: `retired app ${retired.app_id}${retired.audit_seq ? ` (operation ${retired.audit_seq})` : ''}` };
      }),
    );

  program
    .command('auth')
    .description("the app's trust anchor")
    .command('provision')
    .description('provision an Auth Provider for the app and delegate user authority to it (SPEC §4.3)')
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .option('--provider <name>', 'an auth provider from the catalog (default: the first)')
    .action(
      action(async (ctx) => {
        const master = await loadKey(option(ctx, 'key'));
        const provider = optional(ctx, 'provider');
        const anchor = await provisionAuth(ctx.client, { appId: option(ctx, 'app'), master, ...(provider ? { provider } : {}) });
        return { json: anchor, human: `auth provisioned by ${anchor.provider}\n${fields({ ...anchor })}` };
      }),
    );

  program
    .command('token')
    .description('a user token (JWT) for the app from its Auth Provider, signed for by the owner')
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--sub <subject>', 'the user the token is for')
    .requiredOption('--key <file>', 'Master private key')
    .option('--roles <roles>', 'comma-separated roles, e.g. admin,editor')
    .option('--ttl <seconds>', 'lifetime in seconds (60–86400)', integer)
    .action(
      action(async (ctx) => {
        const master = await loadKey(option(ctx, 'key'));
        const roles = optional(ctx, 'roles')
          ?.split(',')
          .map((role) => role.trim())
          .filter(Boolean);
        const ttl = ctx.opts.ttl as number | undefined;
        const token = await userToken(ctx.client, {
          appId: option(ctx, 'app'),
          sub: option(ctx, 'sub'),
          master,
          ...(roles ? { roles } : {}),
          ...(ttl === undefined ? {} : { ttlSeconds: ttl }),
        });
        // The bare token, so `TOKEN=$(swarm token …)` works.
        return { json: token, human: token.access_token };
      }),
    );
}

/** `swarm backbone update`: a subcommand of the `backbone` server command. */
export function addBackboneUpdateCommand(backbone: Command): void {
  backbone
    .command('update')
    .description('point the app at other Billing / Logging services (SPEC §10.2)')
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .option('--billing <url>', 'Billing service URL')
    .option('--logging <url>', 'Logging service URL')
    .action(
      action(async (ctx) => {
        const master = await loadKey(option(ctx, 'key'));
        const billingUrl = optional(ctx, 'billing');
        const loggingUrl = optional(ctx, 'logging');
        if (!billingUrl && !loggingUrl) throw new SwarmError('invalid_request', 'give --billing and/or --logging');
        const answer = await backboneUpdate(ctx.client, {
          appId: option(ctx, 'app'),
          master,
          ...(billingUrl ? { billingUrl } : {}),
          ...(loggingUrl ? { loggingUrl } : {}),
        });
        return { json: answer, human: `backbone updated\n${fields({ ...answer })}` };
      }),
    );
}

/** `swarm export --app APP [--out FILE]`: the app's signed export, checked before it is written. */
export function addExportCommand(program: Command): void {
  program
    .command('export')
    .description("the app's signed export from its registry (keys, bindings, providers, audit head), checked against the registry's key")
    .requiredOption('--app <app_id>', 'the app')
    .option('--out <file>', 'write the export here (mode 0600) instead of standard output')
    .option('--registry-key <key>', "the registry's key to check the export against (default: the key it publishes)")
    .action(
      action(async (ctx) => {
        const { signed, document } = await exportApp(ctx.client, option(ctx, 'app'), optional(ctx, 'registryKey'));
        const out = optional(ctx, 'out');
        const summary = `export of ${document.app_id} from ${document.source.authority}: ${document.bindings.length} binding(s), audit head ${document.audit_head.seq}`;
        if (!out) {
          // The document is the output, in both modes: `swarm export --app … > file`.
          process.stdout.write(`${JSON.stringify(signed, null, 2)}\n`);
          process.stderr.write(`${summary}\n`);
          return undefined;
        }
        await writeFile(out, `${JSON.stringify(signed, null, 2)}\n`, { mode: 0o600 });
        return {
          json: { file: out, app_id: document.app_id, bindings: document.bindings.length, audit_head: document.audit_head },
          human: `${summary}\nwritten to ${out}`,
        };
      }),
    );
}

export function addAuditCommands(program: Command): void {
  program
    .command('operation <id>')
    .description('what the registry logged for one operation of the app: an audit seq, or an update_id, delegation_id, service_id…')
    .requiredOption('--app <app_id>', 'the app')
    .action(
      action(async (ctx, id: string) => {
        const found = await operation(ctx.client, option(ctx, 'app'), id);
        const rows = found.entries.map((entry) => [entry.seq, new Date(entry.at * 1000).toISOString(), entry.event]);
        return { json: found, human: table(['seq', 'at', 'event'], rows) };
      }),
    );

  const audit = program.command('audit').description("the app's audit log");
  audit
    .command('list <app_id>')
    .description("one page of the app's audit log: each entry's seq (the id of the operation it records), time and event")
    .option('--after <seq>', 'entries after this seq (default: from the first)', integer)
    .option('--limit <n>', 'entries per page (the registry applies its default and maximum)', integer)
    .action(
      action(async (ctx, appId: string) => {
        const page = await auditPage(ctx.client, appId, (ctx.opts.after as number | undefined) ?? 0, ctx.opts.limit as number | undefined);
        const rows = page.entries.map((entry) => [entry.seq, new Date(entry.at * 1000).toISOString(), entry.event]);
        const more = page.next === null ? '' : `\nmore: swarm audit list ${appId} --after ${page.next}`;
        return { json: { app_id: appId, ...page }, human: `${table(['seq', 'at', 'event'], rows)}${more}` };
      }),
    );
  audit
    .command('verify <app_id>')
    .description(
      "stream the app's audit log page by page and check its hash chain across pages; after a migration, the source's chain too (--previous)",
    )
    .option('--limit <n>', 'entries per page (the registry applies its default and maximum)', integer)
    .option('--previous <url>', 'the registry the app moved from: its chain is walked up to where this one continues it')
    .action(
      action(async (ctx, appId: string) => {
        const previous = optional(ctx, 'previous');
        const result = await verifyAuditAcross(
          ctx.client,
          appId,
          previous ? { registry: previous } : undefined,
          ctx.opts.limit as number | undefined,
        );
        if (!result.ok) {
          process.exitCode = 1;
          return { json: result, human: `audit log of ${appId} is BROKEN at seq ${result.seq}: ${result.reason}` };
        }
        const across = result.previous ? ` (continuing ${result.previous.registry} from seq ${result.previous.linked_seq})` : '';
        return {
          json: result,
          human: `audit log of ${appId} verifies: ${result.entries} entries, head ${result.head_hash ?? '-'}${across}`,
        };
      }),
    );
}
