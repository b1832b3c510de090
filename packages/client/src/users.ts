import { type SigningKey, type SignupPolicy, SwarmError, signEnvelope } from '@swarm/protocol';
import { getApp } from './apps.js';
import { type ClientOptions, call } from './http.js';
import { freshness } from './keys.js';

/** Which app, and its owner's Master key: every user-management request is signed with it. */
export interface AppOwner {
  appId: string;
  master: SigningKey;
}

export interface SignupPolicyAnswer {
  app_id: string;
  policy: SignupPolicy;
  default_roles: string[];
}

export interface UserAnswer {
  app_id: string;
  username: string;
  roles: string[];
}

export interface UserList {
  app_id: string;
  users: Array<{ username: string; roles: string[]; created_at: number }>;
  /** Pass as `after` for the next page; null at the end. */
  next: string | null;
}

/** Earlier tokens of the user are void from `revoked_at` on (published at `<issuer>/v1/revoked-subjects`). */
export interface RevokedAnswer {
  app_id: string;
  username: string;
  revoked_at: number;
}

export interface InviteAnswer {
  app_id: string;
  /** The single-use code; only its hash is kept by the Auth Provider. */
  invite: string;
  roles: string[];
  expires_at: number;
}

/**
 * Who may sign up by themselves at the app's Auth Provider: `closed` (only the owner adds
 * users), `invite` (holders of an invite code) or `open` (anyone, with `defaultRoles`).
 *
 * @example
 * await setSignupPolicy(options, { appId, master, policy: 'open', defaultRoles: ['reader'] });
 */
export function setSignupPolicy(
  options: ClientOptions,
  input: AppOwner & { policy: SignupPolicy; defaultRoles?: string[] },
): Promise<SignupPolicyAnswer> {
  return authAdmin(options, input, '/v1/admin/signup-policy', 'signup_policy', {
    policy: input.policy,
    ...(input.defaultRoles ? { default_roles: input.defaultRoles } : {}),
  });
}

/** Adds a user with a password and roles (default none). */
export function addUser(
  options: ClientOptions,
  input: AppOwner & { username: string; password: string; roles?: string[] },
): Promise<UserAnswer> {
  return authAdmin(options, input, '/v1/admin/users', 'user_add', {
    username: input.username,
    password: input.password,
    ...(input.roles ? { roles: input.roles } : {}),
  });
}

/** One page of the app's users in name order. */
export function listUsers(options: ClientOptions, input: AppOwner & { after?: string; limit?: number }): Promise<UserList> {
  return authAdmin(options, input, '/v1/admin/users/list', 'user_list', {
    ...(input.after === undefined ? {} : { after: input.after }),
    ...(input.limit === undefined ? {} : { limit: input.limit }),
  });
}

/** Replaces a user's roles; their earlier tokens stop working, the next login carries the new roles. */
export function setUserRoles(
  options: ClientOptions,
  input: AppOwner & { username: string; roles: string[] },
): Promise<UserAnswer & { revoked_at: number }> {
  return authAdmin(options, input, '/v1/admin/users/roles', 'user_roles', { username: input.username, roles: input.roles });
}

/** Sets a new password; the user's earlier tokens stop working. */
export function resetPassword(options: ClientOptions, input: AppOwner & { username: string; password: string }): Promise<RevokedAnswer> {
  return authAdmin(options, input, '/v1/admin/users/reset', 'user_reset', { username: input.username, password: input.password });
}

/** Removes a user; their tokens stop working at the next check. */
export function removeUser(options: ClientOptions, input: AppOwner & { username: string }): Promise<RevokedAnswer> {
  return authAdmin(options, input, '/v1/admin/users/remove', 'user_remove', { username: input.username });
}

/** A single-use invite code for one sign-up, with the roles it grants (default none). */
export function createInvite(options: ClientOptions, input: AppOwner & { roles?: string[]; ttlSeconds?: number }): Promise<InviteAnswer> {
  return authAdmin(options, input, '/v1/admin/invites', 'invite_create', {
    ...(input.roles ? { roles: input.roles } : {}),
    ...(input.ttlSeconds === undefined ? {} : { ttl_seconds: input.ttlSeconds }),
  });
}

/** An `auth_admin` request (docs/PROTOCOL.md) to the app's Auth Provider, signed by the Master key. */
async function authAdmin<T>(
  options: ClientOptions,
  owner: AppOwner,
  path: string,
  context: string,
  fields: Record<string, unknown>,
): Promise<T> {
  const app = await getApp(options, owner.appId);
  if (!app.auth) throw new SwarmError('not_found', `app ${owner.appId} has no Auth Provider yet; run \`swarm auth provision\``);
  const data = { app_id: owner.appId, ...fields, context, ...freshness() };
  const url = `${app.auth.auth_provider_url.replace(/\/+$/, '')}${path}`;
  return (await call<T>('POST', url, signEnvelope('auth_admin', data, owner.master.privateKey))).body;
}
