import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateSigningKey, TrustedRegistries, type TrustedRegistry } from '@swarm/protocol';
import { watchTrustFile } from '../src/index.js';

const entry = (authority: string): TrustedRegistry => ({
  authority,
  baseUrl: `https://${authority}/`,
  publicKey: generateSigningKey().publicKey,
});

const until = async (check: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

/**
 * Writes until the watcher has seen it: a write that lands before the watcher's first look at
 * the file is that first look, not a change. Each write moves the mtime on, so a later one is seen.
 */
const writeUntil = async (file: string, text: string, check: () => boolean) => {
  for (let attempt = 1; ; attempt++) {
    writeFileSync(file, text);
    const stamp = new Date(Date.now() + attempt * 1000);
    utimesSync(file, stamp, stamp);
    try {
      return await until(check, 500);
    } catch (error) {
      if (attempt === 20) throw error;
    }
  }
};

describe('watchTrustFile: a trust table that follows its file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-trust-file-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('takes the file when it changes and on SIGHUP, and keeps the table when the file is bad', async () => {
    const file = join(dir, 'trust.json');
    const a = entry('a.example');
    const b = entry('b.example');
    writeFileSync(file, JSON.stringify([a]));
    const table = new TrustedRegistries([a]);
    const reloads: string[][] = [];
    const errors: string[] = [];
    let changes = 0;
    table.onChange(() => changes++);
    const watch = watchTrustFile(
      file,
      table,
      { onReload: (authorities) => reloads.push(authorities), onError: (error) => errors.push(error.message) },
      25,
    );
    try {
      await writeUntil(file, JSON.stringify([a, b]), () => table.list().length === 2);
      assert.equal(table.byAuthority('b.example').baseUrl, 'https://b.example', 'the trailing slash is dropped');
      assert.deepEqual(reloads.at(-1), ['a.example', 'b.example']);

      // A typo in the file leaves the table as it was and is reported.
      await writeUntil(file, '[{"authority": "a.example",', () => errors.length > 0);
      assert.equal(table.list().length, 2);
      const before = errors.length;
      await writeUntil(file, JSON.stringify([{ ...b, publicKey: 'ed25519:short' }]), () => errors.length > before);
      assert.equal(table.list().length, 2);
      assert.match(errors.at(-1) ?? '', /b\.example has no valid public key/);

      // SIGHUP reads it now (an operator's `kill -HUP`), without waiting for the poll.
      watch.close();
      const hup = watchTrustFile(file, table, {}, 60_000);
      try {
        writeFileSync(file, JSON.stringify([b]));
        process.emit('SIGHUP', 'SIGHUP');
        assert.deepEqual(
          table.list().map((e) => e.authority),
          ['b.example'],
        );
        assert.throws(() => table.byAuthority('a.example'), /not trusted/);
      } finally {
        hup.close();
      }
      assert.ok(changes >= 2);
    } finally {
      watch.close();
    }
  });

  it('refuses the file the operator’s own check refuses', () => {
    const file = join(dir, 'plain.json');
    writeFileSync(file, JSON.stringify([{ ...entry('c.example'), baseUrl: 'http://c.example' }]));
    const table = new TrustedRegistries();
    const watch = watchTrustFile(file, table, {
      check: (entries) => {
        if (entries.some((e) => e.baseUrl.startsWith('http:'))) throw new Error('plain http');
      },
    });
    try {
      assert.equal(watch.reload(), false);
      assert.equal(table.list().length, 0);
    } finally {
      watch.close();
    }
  });
});
