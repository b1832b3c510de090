import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { describedRoutes } from '../src/routes/openapi.js';

/** Every registry route names who may call it (routes/openapi.ts); one that does not stops the start. */
describe('registry routes described with their callers', () => {
  it('accepts described routes and the operational ones', () => {
    const app = Fastify();
    const described = describedRoutes(app);
    app.get('/v1/apps/:app_id/log/:seq', async () => ({}));
    app.post('/v1/apps/:app_id/retire', async () => ({}));
    app.get('/healthz', async () => ({}));
    described.check();
  });

  it('refuses a route nobody described, and a described path under another method', () => {
    const app = Fastify();
    const described = describedRoutes(app);
    app.post('/v1/apps/:app_id/secret-door', async () => ({}));
    app.delete('/v1/apps/:app_id/retire', async () => ({}));
    assert.throws(() => described.check(), /POST \/v1\/apps\/:app_id\/secret-door, DELETE \/v1\/apps\/:app_id\/retire/);
  });
});
