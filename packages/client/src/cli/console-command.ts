import { SwarmError } from '@swarm/protocol';
import type { Command } from 'commander';
import { listApps } from '../apps.js';
import { consoleSource } from '../console-source.js';
import { loadKey } from '../keys.js';
import { action, integer, option, optional } from './common.js';

/** `swarm console`: the console server is loaded only by this command. */
export function addConsoleCommand(program: Command): void {
  program
    .command('console')
    .description('a web console for your apps on 127.0.0.1; this process holds the key and signs, the browser never sees it')
    .requiredOption('--key <file>', 'Master (or delegated) private key')
    .option('--app <app_id...>', 'the apps to show (repeat or list several)')
    .option('--namespace <name>', 'show every app of the namespace (read from the registry at start), with any --app')
    .option('--port <n>', 'port on 127.0.0.1 (default: a free one)', integer)
    .option('--log-level <level>', 'server log level: trace, debug, info, warn, error or silent', process.env.SWARM_LOG_LEVEL || 'warn')
    .action(
      action(async (ctx) => {
        const master = await loadKey(option(ctx, 'key'));
        const namespace = optional(ctx, 'namespace');
        const listed = namespace ? (await listApps(ctx.client, namespace)).map((app) => app.app_id) : [];
        const apps = [...new Set([...((ctx.opts.app as string[] | undefined) ?? []), ...listed])];
        if (apps.length === 0) {
          throw new SwarmError(
            'invalid_request',
            namespace ? `namespace ${namespace} has no apps yet` : 'give --app <app_id> or --namespace <name>',
          );
        }
        const { startConsole } = await import('@swarm/console');
        const port = ctx.opts.port as number | undefined;
        const handle = await startConsole({
          source: consoleSource(ctx.client, master),
          apps,
          logLevel: optional(ctx, 'logLevel') ?? 'warn',
          ...(port === undefined ? {} : { port }),
        });
        const summary = { url: handle.url, login_url: handle.loginUrl, apps };
        process.stdout.write(
          ctx.json
            ? `${JSON.stringify(summary)}\n`
            : `console on ${handle.url}\nopen this once (it logs this browser in, then stops working):\n  ${handle.loginUrl}\nCtrl-C stops it\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
        await handle.close();
        return undefined;
      }),
    );
}
