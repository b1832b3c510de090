import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SERVER_MODULES = ['fastify', 'better-sqlite3', 'pg', '@redis/client'];
const HERE = fileURLToPath(new URL('.', import.meta.url));

/**
 * The server packages named in SERVER_MODULES that a fresh Node process has loaded after
 * importing `specifier`. All four are CommonJS, so each one loaded, even through an ESM
 * import, has an entry in the CommonJS module cache.
 */
function serverModulesLoadedBy(specifier: string): Promise<string[]> {
  const script = `
    const { createRequire } = await import('node:module');
    await import(${JSON.stringify(specifier)});
    const files = Object.keys(createRequire(import.meta.url).cache);
    const names = ${JSON.stringify(SERVER_MODULES)};
    console.log(JSON.stringify(names.filter((name) => files.some((file) => file.includes('/node_modules/' + name + '/')))));
  `;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: HERE, timeout: 60_000 },
      (error, stdout) => {
        if (error) reject(error);
        else resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as string[]);
      },
    );
  });
}

describe("the client library's entry point", () => {
  it('loads no server: no Fastify, SQLite, PostgreSQL or Redis driver', async () => {
    assert.deepEqual(await serverModulesLoadedBy('@swarm/client'), []);
  });

  it('would notice one (the server runtime loads all four)', async () => {
    assert.deepEqual(await serverModulesLoadedBy('@swarm/runtime'), SERVER_MODULES);
  });
});
