import { randomBytes } from 'node:crypto';
import {
  InviteCreateRequest,
  nowSeconds,
  SignupPolicyRequest,
  UserAddRequest,
  UserListRequest,
  UserRemoveRequest,
  UserResetRequest,
  UserRolesRequest,
} from '@swarm/protocol';
import { type AuthContext, ownerSigned } from './auth-context.js';
import { hashPassword } from './passwords.js';

const DEFAULT_INVITE_TTL_SECONDS = 7 * 86_400;
const DEFAULT_LIST_LIMIT = 100;

/**
 * The owner's management of an app's users and sign-up policy, under `<issuer>/v1/admin/…`.
 * Every request is Master-signed (`auth_admin`, docs/PROTOCOL.md) for the app in the path, with
 * `data.context` naming the action; checked by the one owner-signed verifier.
 */
export function registerAdminRoutes(context: AuthContext): void {
  const { app, store } = context;

  app.post('/apps/:appId/v1/admin/signup-policy', async (request) => {
    const { data } = await ownerSigned(context, SignupPolicyRequest, 'auth_admin', request);
    const settings = { policy: data.policy, defaultRoles: data.default_roles ?? [] };
    await store.setSignupSettings(data.app_id, settings, nowSeconds());
    return { app_id: data.app_id, policy: settings.policy, default_roles: settings.defaultRoles };
  });

  app.post('/apps/:appId/v1/admin/users', async (request, reply) => {
    const { data } = await ownerSigned(context, UserAddRequest, 'auth_admin', request);
    const roles = data.roles ?? [];
    const passwordHash = await context.hashQueue.run(() => hashPassword(data.password));
    await store.createUser(data.app_id, { username: data.username, passwordHash, roles }, nowSeconds());
    reply.code(201).send({ app_id: data.app_id, username: data.username, roles });
  });

  app.post('/apps/:appId/v1/admin/users/list', async (request) => {
    const { data } = await ownerSigned(context, UserListRequest, 'auth_admin', request);
    const limit = data.limit ?? DEFAULT_LIST_LIMIT;
    // One more than asked tells whether another page follows.
    const users = await store.listUsers(data.app_id, data.after, limit + 1);
    const page = users.slice(0, limit);
    return { app_id: data.app_id, users: page, next: users.length > limit ? (page.at(-1)?.username ?? null) : null };
  });

  app.post('/apps/:appId/v1/admin/users/roles', async (request) => {
    const { data } = await ownerSigned(context, UserRolesRequest, 'auth_admin', request);
    const now = nowSeconds();
    await store.updateUser(data.app_id, data.username, { roles: data.roles }, now);
    return { app_id: data.app_id, username: data.username, roles: data.roles, revoked_at: now };
  });

  app.post('/apps/:appId/v1/admin/users/reset', async (request) => {
    const { data } = await ownerSigned(context, UserResetRequest, 'auth_admin', request);
    const passwordHash = await context.hashQueue.run(() => hashPassword(data.password));
    const now = nowSeconds();
    await store.updateUser(data.app_id, data.username, { passwordHash }, now);
    return { app_id: data.app_id, username: data.username, revoked_at: now };
  });

  app.post('/apps/:appId/v1/admin/users/remove', async (request) => {
    const { data } = await ownerSigned(context, UserRemoveRequest, 'auth_admin', request);
    const now = nowSeconds();
    await store.removeUser(data.app_id, data.username, now);
    return { app_id: data.app_id, username: data.username, revoked_at: now };
  });

  app.post('/apps/:appId/v1/admin/invites', async (request, reply) => {
    const { data } = await ownerSigned(context, InviteCreateRequest, 'auth_admin', request);
    const now = nowSeconds();
    const code = randomBytes(32).toString('base64url');
    const roles = data.roles ?? [];
    const expiresAt = now + (data.ttl_seconds ?? DEFAULT_INVITE_TTL_SECONDS);
    await store.createInvite(data.app_id, code, roles, now, expiresAt);
    reply.code(201).send({ app_id: data.app_id, invite: code, roles, expires_at: expiresAt });
  });
}
