import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { SubjectRevocations, subjectHash } from '../src/index.js';

describe('SubjectRevocations read on demand', () => {
  let hits = 0;
  let url = '';
  const server = createServer((_request, response) => {
    hits += 1;
    // Slow on purpose: callers arriving during the fetch must wait for it, not answer without a list.
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ subjects: [{ sub_hash: subjectHash('mallory'), revoked_at: 1000 }] }));
    }, 200);
  });
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/apps/x`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('concurrent checks share one fetch and all see the voided user; a later token passes', async () => {
    const revocations = new SubjectRevocations();
    const answers = await Promise.all(Array.from({ length: 5 }, () => revocations.isRevokedNow(url, 'mallory', 900)));
    assert.deepEqual(answers, [true, true, true, true, true]);
    assert.equal(hits, 1, 'one fetch for five concurrent checks');
    assert.equal(await revocations.isRevokedNow(url, 'mallory', 1001), false, 'a token issued after the voiding');
    assert.equal(await revocations.isRevokedNow(url, 'alice', 900), false);
    assert.equal(hits, 1, 'the list is reused within its age');
  });
});
