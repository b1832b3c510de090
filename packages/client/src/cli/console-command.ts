import type { Command } from 'commander';
import { consoleSource } from '../console-source.js';
import { loadKey } from '../keys.js';
import { action, integer, option, optional } from './common.js';

/** `swarm console`: the console server is loaded only by this command. */
export function addConsoleCommand(program: Command): void {
  program
    .command('console')
    .description('a web console for your apps on 127.0.0.1; this process holds the key and signs, the browser never sees it')
    .requiredOption('--key <file>', 'Master (or delegated) private key')
    .requiredOption('--app <app_id...>', 'the apps to show (repeat or list several)')
    .option('--port <n>', 'port on 127.0.0.1 (default: a free one)', integer)
    .option('--log-level <level>', 'server log level: trace, debug, info, warn, error or silent', process.env.SWARM_LOG_LEVEL || 'warn')
    .action(
      action(async (ctx) => {
        const master = await loadKey(option(ctx, 'key'));
        const apps = ctx.opts.app as string[];
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
