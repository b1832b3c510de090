import type { Command } from 'commander';
import { setGuardians } from '../app-changes.js';
import { claimNamespace, recover, rotateMasterKey } from '../identity.js';
import { keygen, loadKey } from '../keys.js';
import { action, option, optional } from './common.js';
import { fields } from './output.js';

export function addIdentityCommands(program: Command): void {
  program
    .command('keygen')
    .description('create an Ed25519 key pair; the private half goes to FILE (PKCS#8 PEM, mode 0600)')
    .requiredOption('--out <file>', 'where to write the private key')
    .action(
      action(async (ctx) => {
        const file = option(ctx, 'out');
        const key = await keygen(file);
        return { json: { file, public_key: key.publicKey }, human: `wrote ${file}\npublic key ${key.publicKey}` };
      }),
    );

  const namespace = program.command('namespace').description('developer identity and namespaces');
  namespace
    .command('register <name>')
    .description('claim a namespace with a Master key and 1–5 Guardian keys')
    .requiredOption('--key <file>', 'Master private key (PEM)')
    .requiredOption('--guardian <file...>', 'Guardian private key files, or their public keys (ed25519:…)')
    .option('--email <address>', 'contact email')
    .option('--admission-token <token>', 'for a registry that does not admit everyone')
    .action(
      action(async (ctx, name: string) => {
        const master = await loadKey(option(ctx, 'key'));
        const guardianPublicKeys = await Promise.all(
          (ctx.opts.guardian as string[]).map(async (value) => (value.startsWith('ed25519:') ? value : (await loadKey(value)).publicKey)),
        );
        const email = optional(ctx, 'email');
        const admissionToken = optional(ctx, 'admissionToken');
        const record = await claimNamespace(ctx.client, {
          namespace: name,
          master,
          guardianPublicKeys,
          ...(email ? { contactEmail: email } : {}),
          ...(admissionToken ? { admissionToken } : {}),
        });
        return { json: record, human: `registered namespace ${record.namespace}\n${fields({ ...record })}` };
      }),
    );

  program
    .command('guardians')
    .description("the namespace's Guardian keys")
    .command('set')
    .description('replace the Guardian set: signed by the Master key and co-signed by a current Guardian key')
    .requiredOption('--namespace <name>', 'the namespace')
    .requiredOption('--key <file>', 'Master private key')
    .requiredOption('--guardian <file>', 'a private key of the CURRENT Guardian set')
    .requiredOption('--new <files>', 'the new set, comma-separated: Guardian private key files or public keys (ed25519:…)')
    .action(
      action(async (ctx) => {
        const [master, guardian] = await Promise.all([loadKey(option(ctx, 'key')), loadKey(option(ctx, 'guardian'))]);
        const guardianPublicKeys = await Promise.all(
          option(ctx, 'new')
            .split(',')
            .map((value) => value.trim())
            .filter(Boolean)
            .map(async (value) => (value.startsWith('ed25519:') ? value : (await loadKey(value)).publicKey)),
        );
        const namespaceName = option(ctx, 'namespace');
        const record = await setGuardians(ctx.client, { namespace: namespaceName, master, guardian, guardianPublicKeys });
        return { json: record, human: `new Guardian set of ${namespaceName}\n${record.guardian_public_keys.join('\n')}` };
      }),
    );

  program
    .command('rotate')
    .description("replace a namespace's Master key (planned rotation, signed by the old and the new key)")
    .requiredOption('--namespace <name>', 'the namespace')
    .requiredOption('--key <file>', 'current Master private key')
    .requiredOption('--new-key <file>', 'new Master private key (create it with `swarm keygen`)')
    .action(
      action(async (ctx) => {
        const [oldKey, newKey] = await Promise.all([loadKey(option(ctx, 'key')), loadKey(option(ctx, 'newKey'))]);
        const namespaceName = option(ctx, 'namespace');
        const answer = await rotateMasterKey(ctx.client, { namespace: namespaceName, oldKey, newKey });
        return { json: answer, human: `rotated the Master key of ${namespaceName}\nnew public key ${newKey.publicKey}` };
      }),
    );

  program
    .command('recover')
    .description("replace a lost Master key, signed by one of the namespace's Guardian keys")
    .requiredOption('--namespace <name>', 'the namespace')
    .requiredOption('--guardian <file>', 'a Guardian private key')
    .requiredOption('--new-key <file>', 'new Master private key (create it with `swarm keygen`)')
    .action(
      action(async (ctx) => {
        const [guardian, newKey] = await Promise.all([loadKey(option(ctx, 'guardian')), loadKey(option(ctx, 'newKey'))]);
        const namespaceName = option(ctx, 'namespace');
        const answer = await recover(ctx.client, { namespace: namespaceName, guardian, newKey });
        return { json: answer, human: `recovered ${namespaceName}\nnew Master public key ${newKey.publicKey}` };
      }),
    );
}
