import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Data, Envelope } from './envelope.js';
import { signedBytes } from './keys.js';

/** A Master key that lives only in a PEM file made by `openssl genpkey`; every signature comes from `openssl pkeyutl -rawin`. */
export class OpensslKey {
  readonly dir = mkdtempSync(join(tmpdir(), 'swarm-openssl-'));
  readonly pem = join(this.dir, 'key.pem');
  readonly publicKey: string;

  constructor() {
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', this.pem]);
    const der = execFileSync('openssl', ['pkey', '-in', this.pem, '-pubout', '-outform', 'DER']);
    this.publicKey = `ed25519:${der.subarray(der.length - 32).toString('base64url')}`;
  }

  sign(purpose: string, object: unknown): string {
    const message = join(this.dir, 'message.bin');
    writeFileSync(message, signedBytes(purpose, object));
    return execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', this.pem, '-rawin', '-in', message]).toString('hex');
  }

  envelope(purpose: string, data: Data): Envelope {
    return { version: '1.0', data, signature: this.sign(purpose, data) };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `openssl pkeyutl -verify -rawin` of a signature made elsewhere, with a wire public key. */
export function opensslVerify(purpose: string, object: unknown, signatureHex: string, publicKey: string): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-openssl-'));
  try {
    const spkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');
    const der = Buffer.concat([spkiPrefix, Buffer.from(publicKey.slice('ed25519:'.length), 'base64url')]);
    const pem = `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`;
    writeFileSync(join(dir, 'pub.pem'), pem);
    writeFileSync(join(dir, 'message.bin'), signedBytes(purpose, object));
    writeFileSync(join(dir, 'sig.bin'), Buffer.from(signatureHex, 'hex'));
    const args = [
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      join(dir, 'pub.pem'),
      '-rawin',
      '-in',
      join(dir, 'message.bin'),
      '-sigfile',
      join(dir, 'sig.bin'),
    ];
    try {
      execFileSync('openssl', args, { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
