import { after, before, describe } from 'node:test';
import { authProviderCases } from './auth-provider.cases.js';
import { developerWithApps, type World } from './fixtures/apps.js';
import { startSuite } from './fixtures/suite.js';
import { domainCases } from './services-domain.cases.js';
import { doubleKillCases, exitCases } from './services-exit.cases.js';
import { provisioningCases } from './services-provision.cases.js';
import { authRotationCases, tokenCases } from './services-tokens.cases.js';

describe('acceptance: domain services (SPEC §5.1, §8, §12)', () => {
  let world: World;
  before(async () => {
    const ctx = await startSuite();
    const { dev, apps } = await developerWithApps(ctx, ['shop', 'blog']);
    world = { ctx, dev, a: apps[0]!, b: apps[1]!, instances: new Map() };
  });
  after(() => world?.ctx.swarm.close());
  const ref = () => world;
  provisioningCases(ref);
  tokenCases(ref);
  domainCases(ref);
  authProviderCases(ref);
  authRotationCases(ref);
  exitCases(ref);
  doubleKillCases(ref);
});
