import { after, before, describe } from 'node:test';
import { dnsCases } from './dns.cases.js';
import type { SuiteContext } from './fixtures/context.js';
import { startSuite } from './fixtures/suite.js';
import { masterKeyCases } from './master-key.cases.js';
import { bindingCases } from './registry-bindings.cases.js';
import { catalogCases } from './registry-catalog.cases.js';
import { identityCases } from './registry-identity.cases.js';
import { instanceLifeCases } from './registry-life.cases.js';

/** Short heartbeats so that §9.2 health is seen within seconds. */
const HEARTBEAT_SECONDS = 3;

describe('acceptance: the App Registry (SPEC §3–§7, §9.1–§9.3, §10, §11)', () => {
  let suite: SuiteContext;
  before(async () => {
    suite = await startSuite({ ACCEPTANCE_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS) });
  });
  after(() => suite?.swarm.close());
  const ctx = () => suite;
  identityCases(ctx);
  catalogCases(ctx);
  bindingCases(ctx);
  instanceLifeCases(ctx);
  dnsCases(ctx, HEARTBEAT_SECONDS);
  masterKeyCases(ctx);
});
