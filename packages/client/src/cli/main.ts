import { Command } from 'commander';
import { addAppCommands, addAuditCommands, addBackboneUpdateCommand, addExportCommand } from './app-commands.js';
import { defaultRegistryUrl } from './common.js';
import { addConsoleCommand } from './console-command.js';
import { addDelegationCommands } from './delegation-commands.js';
import { addRegistryDsCommand } from './dns-commands.js';
import { addIdentityCommands } from './identity-commands.js';
import { addMigrationCommands } from './migration-commands.js';
import { addBroadcastCommands, addOutboxCommands } from './outbox-commands.js';
import { hintFor, terminalSafe, toCliError } from './output.js';
import { addServerCommands } from './server-commands.js';
import { addServiceCommands } from './service-commands.js';
import { addUsersCommands } from './users-commands.js';

export function buildProgram(): Command {
  const program = new Command('swarm')
    .description('Swarm: the OMI application lifecycle — keys, namespaces, apps, services, and a local swarm to run them')
    .version('1.0.0 (protocol 1.0)')
    .option('--registry <url>', 'App Registry URL (env SWARM_REGISTRY)', defaultRegistryUrl())
    .option('--json', 'machine output only (JSON)')
    .showHelpAfterError('(add --help for usage)');
  addIdentityCommands(program);
  addAppCommands(program);
  addUsersCommands(program);
  addServiceCommands(program);
  addDelegationCommands(program);
  addAuditCommands(program);
  addExportCommand(program);
  addMigrationCommands(program);
  addConsoleCommand(program);
  addBroadcastCommands(program);
  addOutboxCommands(program);
  const backbone = addServerCommands(program);
  addBackboneUpdateCommand(backbone);
  addRegistryDsCommand(program.commands.find((command) => command.name() === 'registry') as Command);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (caught) {
    const error = toCliError(caught);
    if (argv.includes('--json')) {
      process.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message } }, null, 2)}\n`);
    }
    process.stderr.write(`error ${error.code}: ${terminalSafe(error.message)}\n`);
    const hint = hintFor(error.code);
    if (hint) process.stderr.write(`hint: ${hint}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
