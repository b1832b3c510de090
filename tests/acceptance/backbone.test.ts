import { after, before, describe } from 'node:test';
import { backboneUpdateCases } from './backbone.cases.js';
import { broadcastCases } from './broadcasts.cases.js';
import type { SuiteContext } from './fixtures/context.js';
import { startSuite } from './fixtures/suite.js';
import { opensslCases } from './openssl.cases.js';
import { ownerReadCases } from './owner-reads.cases.js';
import { robustnessCases } from './robustness.cases.js';

describe('acceptance: backbone, usage and the openssl command line (SPEC §3, §9.3, §9.4, §10.2)', () => {
  let suite: SuiteContext;
  before(async () => {
    suite = await startSuite();
  });
  after(() => suite?.swarm.close());
  const ctx = () => suite;
  backboneUpdateCases(ctx);
  ownerReadCases(ctx);
  opensslCases(ctx);
  broadcastCases(ctx);
  robustnessCases(ctx);
});
