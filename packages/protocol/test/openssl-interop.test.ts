import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodePublicKey, generateSigningKey, privateKeyToPem, sign, signedBytes, verify } from '../src/index.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'swarm-openssl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const data = {
  app_id: 'org.omiappreg.alice.business_app.7f8a9d',
  target_provider: 'article.cms.io',
  service_tier: 'pro_cluster',
  region: 'eu-central-1',
  timestamp: 1705412600,
  nonce: 'z3x9v2n8',
};

describe('interop with the openssl command line', { skip: hasOpenssl ? false : 'openssl is not on PATH' }, () => {
  it('accepts a signature made by `openssl pkeyutl -sign -rawin` over the SPEC bytes', () => {
    const keyFile = join(dir, 'dev.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', keyFile]);
    const der = execFileSync('openssl', ['pkey', '-in', keyFile, '-pubout', '-outform', 'DER']);
    const publicKey = encodePublicKey(der.subarray(der.length - 32));
    const bytesFile = join(dir, 'signed.bin');
    writeFileSync(bytesFile, signedBytes('provision', data));
    const signature = execFileSync('openssl', ['pkeyutl', '-sign', '-rawin', '-inkey', keyFile, '-in', bytesFile]);
    assert.ok(verify('provision', data, signature.toString('hex'), publicKey));
    assert.equal(verify('provision', { ...data, nonce: 'z3x9v2n9' }, signature.toString('hex'), publicKey), false);
  });

  it('makes signatures that `openssl pkeyutl -verify -rawin` accepts', () => {
    const key = generateSigningKey();
    const keyFile = join(dir, 'ours.pem');
    writeFileSync(keyFile, privateKeyToPem(key.privateKey));
    const pubFile = join(dir, 'ours.pub.pem');
    execFileSync('openssl', ['pkey', '-in', keyFile, '-pubout', '-out', pubFile]);
    const bytesFile = join(dir, 'ours.bin');
    writeFileSync(bytesFile, signedBytes('provision', data));
    const sigFile = join(dir, 'ours.sig');
    writeFileSync(sigFile, Buffer.from(sign('provision', data, key.privateKey), 'hex'));
    const result = spawnSync('openssl', [
      'pkeyutl',
      '-verify',
      '-rawin',
      '-pubin',
      '-inkey',
      pubFile,
      '-in',
      bytesFile,
      '-sigfile',
      sigFile,
    ]);
    assert.equal(result.status, 0, result.stderr.toString());
    assert.match(result.stdout.toString(), /Signature Verified Successfully/);
    writeFileSync(bytesFile, signedBytes('app', data));
    assert.notEqual(
      spawnSync('openssl', ['pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', pubFile, '-in', bytesFile, '-sigfile', sigFile]).status,
      0,
    );
    assert.ok(readFileSync(pubFile, 'utf8').includes('PUBLIC KEY'));
  });
});
