import { AuthKeyRotation, nowSeconds, type Purpose, parseMessage, requireAppId, SwarmError, TokenRequest } from '@swarm/protocol';
import { jsonBody, type OwnerEnvelopeSchema, requireBearerToken, verifyBroadcast, verifyOwnerSigned } from '@swarm/runtime';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type AuthContext, actOnBroadcast, issuerOf } from './auth-context.js';
import { authJwk } from './auth-store.js';
import { hashPassword, unknownUserHash, verifyPassword } from './passwords.js';
import { issueToken, verifyOwnToken } from './tokens.js';

const Username = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$/, 'username must be 1–128 of [A-Za-z0-9_.@+-]');
const Role = z.string().regex(/^[a-z][a-z0-9_:-]{0,62}$/, 'a role is 1–63 of [a-z0-9_:-]');
const SignUp = z.strictObject({
  username: Username,
  password: z.string().min(8).max(1024),
  roles: z.array(Role).min(1).max(32).optional(),
});
const Login = z.strictObject({ username: Username, password: z.string().min(1).max(1024) });

interface AppParams {
  appId: string;
}

/** Everything under `<publicUrl>/apps/<app_id>`: the app's issuer, users and tokens. */
export function registerAppRoutes(context: AuthContext): void {
  const { app, store } = context;

  const provisionedApp = async (params: unknown): Promise<string> => {
    const appId = requireAppId((params as AppParams).appId);
    if (!(await store.hasApp(appId))) throw new SwarmError('unknown_app', `app ${appId} is not provisioned here`);
    return appId;
  };

  app.get('/apps/:appId/.well-known/jwks.json', async (request, reply) => {
    const appId = await provisionedApp(request.params);
    const keys = await store.verificationKeys(appId, nowSeconds());
    reply.header('cache-control', 'public, max-age=60');
    return { keys: keys.map(authJwk) };
  });

  app.get('/apps/:appId/.well-known/openid-configuration', async (request, reply) => {
    const appId = await provisionedApp(request.params);
    const issuer = issuerOf(context, appId);
    reply.header('cache-control', 'public, max-age=300');
    return {
      issuer,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      token_endpoint: `${issuer}/v1/login`,
      registration_endpoint: `${issuer}/v1/users`,
      grant_types_supported: ['password'],
      response_types_supported: ['token'],
      subject_types_supported: ['public'],
      token_endpoint_auth_methods_supported: ['none'],
      id_token_signing_alg_values_supported: ['EdDSA'],
      claims_supported: ['iss', 'aud', 'sub', 'iat', 'exp', 'roles'],
    };
  });

  app.post('/apps/:appId/v1/users', async (request, reply) => {
    const appId = await provisionedApp(request.params);
    const body = parseMessage(SignUp, jsonBody(request));
    let roles = ['user'];
    if (body.roles) {
      // Only the app's owner (an admin token of this app) hands out roles.
      const token = requireBearerToken(request.headers.authorization, 'forbidden', 'setting roles needs an admin token of this app');
      const callerRoles = await verifyOwnToken(token, await store.verificationKeys(appId, nowSeconds()), issuerOf(context, appId), appId);
      if (!callerRoles.includes('admin')) throw new SwarmError('forbidden', 'setting roles needs the admin role');
      roles = body.roles;
    }
    await store.createUser(appId, { username: body.username, passwordHash: await hashPassword(body.password), roles }, nowSeconds());
    reply.code(201).send({ app_id: appId, username: body.username, roles });
  });

  app.post('/apps/:appId/v1/login', async (request, reply) => {
    const appId = await provisionedApp(request.params);
    const body = parseMessage(Login, jsonBody(request));
    const { loginThrottle } = context;
    // Reserved before any hashing: a locked name, or one with as many guesses in flight as it
    // has failures left, costs us no CPU.
    const retryAfter = loginThrottle.begin(appId, body.username);
    if (retryAfter > 0) {
      reply.header('retry-after', String(retryAfter));
      throw new SwarmError('rate_limited', `too many wrong passwords for this username; try again in ${retryAfter} s`);
    }
    let user: Awaited<ReturnType<typeof store.findUser>>;
    let matches: boolean;
    try {
      user = await store.findUser(appId, body.username);
      // Unknown user and wrong password cost the same and fail the same way.
      matches = await verifyPassword(body.password, user?.passwordHash ?? (await unknownUserHash()));
    } catch (error) {
      loginThrottle.abandoned(appId, body.username);
      throw error;
    }
    if (!user || !matches) {
      loginThrottle.failed(appId, body.username);
      throw new SwarmError('invalid_token', 'username or password is wrong');
    }
    loginThrottle.succeeded(appId, body.username);
    return signedToken(context, appId, user.username, user.roles, context.tokenTtlSeconds);
  });

  /** An owner request to an app's own path: Master-signed, for the app the path names. */
  const ownerSigned = <S extends OwnerEnvelopeSchema>(schema: S, purpose: Purpose, request: FastifyRequest) => {
    const appId = requireAppId((request.params as AppParams).appId);
    return verifyOwnerSigned(schema, jsonBody(request), {
      purpose,
      registry: context.registry,
      replay: context.replay,
      freshnessSeconds: context.freshnessSeconds,
      expect: async (data) => {
        if (data.app_id !== appId) throw new SwarmError('invalid_request', 'data.app_id must be the app in the path');
        await provisionedApp(request.params);
      },
    });
  };

  app.post('/apps/:appId/v1/owner-token', async (request) => {
    const { data } = await ownerSigned(TokenRequest, 'token_request', request);
    return signedToken(context, data.app_id, data.sub, data.roles ?? ['admin'], data.ttl_seconds ?? context.tokenTtlSeconds);
  });

  app.post('/apps/:appId/v1/rotate-key', async (request) => {
    const { data } = await ownerSigned(AuthKeyRotation, 'auth_key_rotation', request);
    const key = await store.rotate(data.app_id, nowSeconds(), context.overlapSeconds);
    return { app_id: data.app_id, auth_public_key: key.publicKey, auth_provider_url: issuerOf(context, data.app_id) };
  });

  app.post('/apps/:appId/v1/events', async (request, reply) => {
    const appId = requireAppId((request.params as AppParams).appId);
    const event = await verifyBroadcast(context.registry.trusted, jsonBody(request), context.replay);
    if (event && event.app_id !== appId) throw new SwarmError('forbidden', 'the broadcast is for another app');
    actOnBroadcast(context, event);
    reply.code(202).send({ accepted: true });
  });
}

async function signedToken(context: AuthContext, appId: string, sub: string, roles: string[], ttlSeconds: number) {
  const key = await context.store.signingKey(appId);
  if (!key) throw new SwarmError('unknown_app', `app ${appId} is not provisioned here`);
  return issueToken(key, { issuer: issuerOf(context, appId), appId, sub, roles, ttlSeconds }, nowSeconds());
}
