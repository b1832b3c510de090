import {
  type AnswerSchema,
  InviteAnswer,
  RevokedAnswer,
  type SigningKey,
  type SignupPolicy,
  SignupPolicyAnswer,
  SwarmError,
  signEnvelope,
  UserAnswer,
  UserList,
  UserRolesAnswer,
} from '@swarm/protocol';
import { getApp } from './apps.js';
import { type ClientOptions, call } from './http.js';
import { freshness } from './keys.js';

/** Which app, and its owner's Master key: every user-management request is signed with it. */
export interface AppOwner {
  appId: string;
  master: SigningKey;
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
  return authAdmin(options, input, '/v1/admin/signup-policy', 'signup_policy', SignupPolicyAnswer, {
    policy: input.policy,
    ...(input.defaultRoles ? { default_roles: input.defaultRoles } : {}),
  });
}

/** Adds a user with a password and roles (default none). */
export function addUser(
  options: ClientOptions,
  input: AppOwner & { username: string; password: string; roles?: string[] },
): Promise<UserAnswer> {
  return authAdmin(options, input, '/v1/admin/users', 'user_add', UserAnswer, {
    username: input.username,
    password: input.password,
    ...(input.roles ? { roles: input.roles } : {}),
  });
}

/** One page of the app's users in name order. */
export function listUsers(options: ClientOptions, input: AppOwner & { after?: string; limit?: number }): Promise<UserList> {
  return authAdmin(options, input, '/v1/admin/users/list', 'user_list', UserList, {
    ...(input.after === undefined ? {} : { after: input.after }),
    ...(input.limit === undefined ? {} : { limit: input.limit }),
  });
}

/** Replaces a user's roles; their earlier tokens stop working, the next login carries the new roles. */
export function setUserRoles(options: ClientOptions, input: AppOwner & { username: string; roles: string[] }): Promise<UserRolesAnswer> {
  return authAdmin(options, input, '/v1/admin/users/roles', 'user_roles', UserRolesAnswer, {
    username: input.username,
    roles: input.roles,
  });
}

/** Sets a new password; the user's earlier tokens stop working. */
export function resetPassword(options: ClientOptions, input: AppOwner & { username: string; password: string }): Promise<RevokedAnswer> {
  return authAdmin(options, input, '/v1/admin/users/reset', 'user_reset', RevokedAnswer, {
    username: input.username,
    password: input.password,
  });
}

/** Removes a user; their tokens stop working at the next check. */
export function removeUser(options: ClientOptions, input: AppOwner & { username: string }): Promise<RevokedAnswer> {
  return authAdmin(options, input, '/v1/admin/users/remove', 'user_remove', RevokedAnswer, { username: input.username });
}

/** A single-use invite code for one sign-up, with the roles it grants (default none). */
export function createInvite(options: ClientOptions, input: AppOwner & { roles?: string[]; ttlSeconds?: number }): Promise<InviteAnswer> {
  return authAdmin(options, input, '/v1/admin/invites', 'invite_create', InviteAnswer, {
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
  answer: AnswerSchema<T>,
  fields: Record<string, unknown>,
): Promise<T> {
  const app = await getApp(options, owner.appId);
  if (!app.auth) throw new SwarmError('not_found', `app ${owner.appId} has no Auth Provider yet; run \`swarm auth provision\``);
  const data = { app_id: owner.appId, ...fields, context, ...freshness() };
  const url = `${app.auth.auth_provider_url.replace(/\/+$/, '')}${path}`;
  return (await call('POST', url, answer, signEnvelope('auth_admin', data, owner.master.privateKey))).body;
}
