import { randomBytes } from 'node:crypto';
import { SignupPolicy, SwarmError } from '@swarm/protocol';
import { type Command, InvalidArgumentError } from 'commander';
import { loadKey } from '../keys.js';
import { addUser, createInvite, listUsers, removeUser, resetPassword, setSignupPolicy, setUserRoles } from '../users.js';
import { action, type CommandContext, integer, option, optional } from './common.js';
import { fields, table } from './output.js';

/** `swarm users …` and `swarm auth signup`: the owner's say over who uses the app. */
export function addUsersCommands(program: Command): void {
  const auth =
    program.commands.find((command) => command.name() === 'auth') ?? program.command('auth').description("the app's trust anchor");
  auth
    .command('signup')
    .description('who may sign up at the app’s Auth Provider: closed (only you add users), invite, or open')
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .requiredOption('--policy <policy>', 'closed | invite | open', policyOf)
    .option('--default-roles <roles>', 'comma-separated roles an open sign-up gets (default none)')
    .action(
      action(async (ctx) => {
        const defaultRoles = rolesOf(optional(ctx, 'defaultRoles'));
        const answer = await setSignupPolicy(ctx.client, {
          ...(await owner(ctx)),
          policy: ctx.opts.policy as SignupPolicy,
          ...(defaultRoles ? { defaultRoles } : {}),
        });
        return { json: answer, human: `sign-up is ${answer.policy}\n${fields({ ...answer })}` };
      }),
    );

  const users = program.command('users').description("the app's users at its Auth Provider (signed with the Master key)");
  const add = users
    .command('add <username>')
    .description('add a user; without --password one is made up and printed')
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .option('--roles <roles>', 'comma-separated roles, e.g. reader,editor (default none)');
  withPasswordOptions(add).action(
    action(async (ctx, username: string) => {
      const { password, madeUp } = await passwordOf(ctx);
      const roles = rolesOf(optional(ctx, 'roles'));
      const answer = await addUser(ctx.client, { ...(await owner(ctx)), username, password, ...(roles ? { roles } : {}) });
      const json = madeUp ? { ...answer, password } : answer;
      return { json, human: `added ${answer.username}\n${fields({ ...json })}` };
    }),
  );

  users
    .command('list')
    .description("the app's users, in name order")
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .option('--after <username>', 'start after this name (the `next` of the previous page)')
    .option('--limit <n>', 'at most this many (1–1000, default 100)', integer)
    .action(
      action(async (ctx) => {
        const after = optional(ctx, 'after');
        const limit = ctx.opts.limit as number | undefined;
        const answer = await listUsers(ctx.client, {
          ...(await owner(ctx)),
          ...(after === undefined ? {} : { after }),
          ...(limit === undefined ? {} : { limit }),
        });
        const rows = answer.users.map((user) => [
          user.username,
          user.roles.join(',') || '(none)',
          new Date(user.created_at * 1000).toISOString(),
        ]);
        const more = answer.next ? `\nmore: --after ${answer.next}` : '';
        return { json: answer, human: `${table(['username', 'roles', 'created'], rows)}${more}` };
      }),
    );

  users
    .command('roles <username>')
    .description("replace a user's roles (--roles '' for none); their current tokens stop working")
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .requiredOption('--roles <roles>', 'comma-separated roles')
    .action(
      action(async (ctx, username: string) => {
        const roles = rolesOf(option(ctx, 'roles')) ?? [];
        const answer = await setUserRoles(ctx.client, { ...(await owner(ctx)), username, roles });
        return { json: answer, human: `${answer.username} now has ${roles.join(',') || 'no roles'}\n${fields({ ...answer })}` };
      }),
    );

  const reset = users
    .command('reset <username>')
    .description('set a new password (made up and printed without --password); their current tokens stop working')
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key');
  withPasswordOptions(reset).action(
    action(async (ctx, username: string) => {
      const { password, madeUp } = await passwordOf(ctx);
      const answer = await resetPassword(ctx.client, { ...(await owner(ctx)), username, password });
      const json = madeUp ? { ...answer, password } : answer;
      return { json, human: `reset the password of ${answer.username}\n${fields({ ...json })}` };
    }),
  );

  users
    .command('remove <username>')
    .description('remove a user; their tokens stop working at the next check')
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .action(
      action(async (ctx, username: string) => {
        const answer = await removeUser(ctx.client, { ...(await owner(ctx)), username });
        return { json: answer, human: `removed ${answer.username}\n${fields({ ...answer })}` };
      }),
    );

  users
    .command('invite')
    .description('a single-use invite code for one sign-up (when the policy is invite or open)')
    .requiredOption('--app <app_id>', 'the app')
    .requiredOption('--key <file>', 'Master private key')
    .option('--roles <roles>', 'comma-separated roles the new user gets (default none)')
    .option('--ttl <seconds>', 'valid for this long (60–2592000, default 7 days)', integer)
    .action(
      action(async (ctx) => {
        const roles = rolesOf(optional(ctx, 'roles'));
        const ttl = ctx.opts.ttl as number | undefined;
        const answer = await createInvite(ctx.client, {
          ...(await owner(ctx)),
          ...(roles ? { roles } : {}),
          ...(ttl === undefined ? {} : { ttlSeconds: ttl }),
        });
        return { json: answer, human: `invite ${answer.invite}\n${fields({ ...answer })}` };
      }),
    );
}

/** --password or --password-stdin; neither makes one up. */
function withPasswordOptions(command: Command): Command {
  return command
    .option('--password <password>', 'the password (visible to other local users; prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input');
}

async function owner(ctx: CommandContext) {
  return { appId: option(ctx, 'app'), master: await loadKey(option(ctx, 'key')) };
}

function policyOf(value: string): SignupPolicy {
  const parsed = SignupPolicy.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError('choose closed, invite or open');
  return parsed.data;
}

/** `a,b` → ['a', 'b']; `''` → [] (no roles); absent → undefined. */
function rolesOf(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((role) => role.trim())
    .filter(Boolean);
}

/** From --password, --password-stdin, or made up (24 random bytes) when neither is given. */
async function passwordOf(ctx: CommandContext): Promise<{ password: string; madeUp: boolean }> {
  const given = optional(ctx, 'password');
  if (given !== undefined && ctx.opts.passwordStdin === true)
    throw new SwarmError('invalid_request', 'give --password or --password-stdin, not both');
  if (given !== undefined) return { password: given, madeUp: false };
  if (ctx.opts.passwordStdin === true) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const password = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    if (!password) throw new SwarmError('invalid_request', 'no password on standard input');
    return { password, madeUp: false };
  }
  return { password: randomBytes(18).toString('base64url'), madeUp: true };
}
