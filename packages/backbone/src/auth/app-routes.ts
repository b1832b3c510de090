import { AuthKeyRotation, LoginBody, nowSeconds, parseMessage, requireAppId, SignUpBody, SwarmError, TokenRequest } from '@swarm/protocol';
import { jsonBody, requireBearerToken, requireRole, subjectHash, verifyBroadcast } from '@swarm/runtime';
import {
  type AuthContext,
  actOnBroadcast,
  issuerOf,
  longestTokenSeconds,
  ownerSigned,
  provisionedApp as provisioned,
  signedToken,
} from './auth-context.js';
import { authJwk } from './auth-store.js';
import { hashPassword, unknownUserHash, verifyPassword } from './passwords.js';
import { verifyOwnToken } from './tokens.js';

interface AppParams {
  appId: string;
}

/** Everything under `<publicUrl>/apps/<app_id>`: the app's issuer, users and tokens. */
export function registerAppRoutes(context: AuthContext): void {
  const { app, store } = context;
  const provisionedApp = (params: unknown) => provisioned(context, params);

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
      revoked_subjects_endpoint: `${issuer}/v1/revoked-subjects`,
    };
  });

  // Services poll this instead of asking per request: a token whose `sub` hashes to an entry
  // and whose `iat` is at or before its `revoked_at` is void. Older entries can match no
  // unexpired token and are left out, so the list stays short.
  app.get('/apps/:appId/v1/revoked-subjects', async (request, reply) => {
    const appId = await provisionedApp(request.params);
    const revoked = await store.revokedSince(appId, nowSeconds() - longestTokenSeconds(context));
    reply.header('cache-control', 'public, max-age=10');
    return { subjects: revoked.map((entry) => ({ sub_hash: subjectHash(entry.username), revoked_at: entry.revokedAt })) };
  });

  app.post('/apps/:appId/v1/users', async (request, reply) => {
    const appId = await provisionedApp(request.params);
    const body = parseMessage(SignUpBody, jsonBody(request));
    const now = nowSeconds();
    if (request.headers.authorization !== undefined) {
      // An admin token of the app is its owner acting: any policy, any roles.
      await requireAdminToken(context, appId, request.headers.authorization);
      if (body.invite !== undefined) throw new SwarmError('invalid_request', 'an admin creates users without an invite');
      const roles = body.roles ?? (await store.signupSettings(appId)).defaultRoles;
      const passwordHash = await context.hashQueue.run(() => hashPassword(body.password));
      await store.createUser(appId, { username: body.username, passwordHash, roles }, now);
      reply.code(201).send({ app_id: appId, username: body.username, roles });
      return;
    }
    if (body.roles) throw new SwarmError('forbidden', 'setting roles needs an admin token of this app');
    const settings = await store.signupSettings(appId);
    if (settings.policy === 'closed') throw new SwarmError('forbidden', 'sign-up at this app is closed: its owner adds users');
    let roles = settings.defaultRoles;
    if (body.invite !== undefined) {
      // Checked before hashing so a made-up code costs no CPU; used up atomically below.
      const inviteRoles = await store.usableInvite(appId, body.invite, now);
      if (!inviteRoles) throw new SwarmError('forbidden', 'the invite is unknown, used or expired');
      roles = inviteRoles;
    } else if (settings.policy === 'invite') {
      throw new SwarmError('forbidden', 'sign-up at this app needs an invite from its owner');
    }
    await context.rateLimits.admit('signup', appId, request.ip);
    const passwordHash = await context.hashQueue.run(() => hashPassword(body.password));
    await store.createUser(
      appId,
      { username: body.username, passwordHash, roles },
      nowSeconds(),
      body.invite === undefined ? undefined : { code: body.invite },
    );
    reply.code(201).send({ app_id: appId, username: body.username, roles });
  });

  app.post('/apps/:appId/v1/login', async (request, reply) => {
    const appId = await provisionedApp(request.params);
    const body = parseMessage(LoginBody, jsonBody(request));
    // Per address first: one address spraying many names empties its own bucket, not the app's.
    await context.rateLimits.admit('login', appId, request.ip);
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
      const hash = user?.passwordHash ?? (await unknownUserHash());
      // Unknown user and wrong password cost the same and fail the same way.
      matches = await context.hashQueue.run(() => verifyPassword(body.password, hash));
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

  app.post('/apps/:appId/v1/owner-token', async (request) => {
    const { data } = await ownerSigned(context, TokenRequest, 'token_request', request);
    return signedToken(context, data.app_id, data.sub, data.roles ?? ['admin'], data.ttl_seconds ?? context.tokenTtlSeconds);
  });

  app.post('/apps/:appId/v1/rotate-key', async (request) => {
    const { data } = await ownerSigned(context, AuthKeyRotation, 'auth_key_rotation', request);
    const key = await store.rotate(data.app_id, nowSeconds(), context.overlapSeconds);
    return { app_id: data.app_id, auth_public_key: key.publicKey, auth_provider_url: issuerOf(context, data.app_id) };
  });

  app.post('/apps/:appId/v1/events', async (request, reply) => {
    const appId = requireAppId((request.params as AppParams).appId);
    // The app is checked before the nonce is spent: a broadcast sent to the wrong app's path
    // must still be taken at its own.
    const event = await verifyBroadcast(context.registry, jsonBody(request), context.replay, { appId });
    await actOnBroadcast(context, event);
    reply.code(202).send({ accepted: true });
  });

  // A move the source did not release, delivered to the app's own issuer URL (docs/BACKBONE.md).
  app.post('/apps/:appId/v1/events/migration', async (request, reply) => {
    const appId = requireAppId((request.params as AppParams).appId);
    const body = jsonBody(request);
    if ((body as { proof?: { data?: { app_id?: unknown } } }).proof?.data?.app_id !== appId) {
      throw new SwarmError('invalid_request', 'the move is of another app than the path names');
    }
    await context.registry.followApproved(appId, body);
    reply.code(202).send({ accepted: true });
  });
}

/**
 * `Authorization: Bearer <token>` of the app with the `admin` role, not voided since it was
 * issued; `invalid_token` (401) or `forbidden` (403) otherwise.
 */
export async function requireAdminToken(context: AuthContext, appId: string, authorization: string | undefined): Promise<void> {
  const token = requireBearerToken(authorization, 'forbidden', 'setting roles needs an admin token of this app');
  const claims = await verifyOwnToken(token, await context.store.verificationKeys(appId, nowSeconds()), issuerOf(context, appId), appId);
  const revokedAt = await context.store.revokedAt(appId, claims.sub);
  if (revokedAt !== null && claims.iat <= revokedAt)
    throw new SwarmError('invalid_token', 'this token was revoked: its user was removed or changed');
  requireRole(claims.roles, 'admin');
}
