import { z } from 'zod';
import { AppIdString, Nonce, SignatureHex, Timestamp } from './schemas.js';

/*
 * The Auth Provider's user-facing bodies and its owner's user management (docs/PROTOCOL.md,
 * extension purpose `auth_admin`). Every owner request is Master-signed with purpose
 * `auth_admin`; `data.context` names the action, so a request signed for one action is refused
 * by every other route (the schemas are strict and each takes one literal).
 */

/** How a user is named at an app's Auth Provider: compared exactly, case included. */
export const Username = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$/, 'username must be 1–128 of [A-Za-z0-9_.@+-]');
export const Password = z.string().min(8).max(1024);
export const UserRole = z.string().regex(/^[a-z][a-z0-9_:-]{0,62}$/, 'a role is 1–63 of [a-z0-9_:-]');
/** A user's roles: at most 32, each once. */
export const UserRoles = z
  .array(UserRole)
  .max(32)
  .refine((roles) => new Set(roles).size === roles.length, 'roles must not repeat');
/** Who may sign up by themselves: nobody (`closed`), holders of an invite code, or anyone. */
export const SignupPolicy = z.enum(['closed', 'invite', 'open']);
/** A single-use invite code as the owner hands it out (256 random bits, base64url). */
export const InviteCode = z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, 'an invite code is 16–128 of [A-Za-z0-9_-]');

/** `POST {issuer}/v1/users`: a sign-up; `invite` when the app's policy is `invite`. */
export const SignUpBody = z.strictObject({
  username: Username,
  password: Password,
  roles: UserRoles.optional(),
  invite: InviteCode.optional(),
});
/** `POST {issuer}/v1/login`. */
export const LoginBody = z.strictObject({ username: Username, password: z.string().min(1).max(1024) });

const ownerData = <C extends string, F extends z.ZodRawShape>(context: C, fields: F) =>
  z.strictObject({ app_id: AppIdString, timestamp: Timestamp, nonce: Nonce, context: z.literal(context), ...fields });
// The same envelope rules as every SPEC message (strict, 128 lowercase hex signature).
const signed = <T extends z.ZodType>(data: T) => z.strictObject({ version: z.string().max(16), data, signature: SignatureHex });

export const SignupPolicyData = ownerData('signup_policy', { policy: SignupPolicy, default_roles: UserRoles.optional() });
export const SignupPolicyRequest = signed(SignupPolicyData);
export const UserAddData = ownerData('user_add', { username: Username, password: Password, roles: UserRoles.optional() });
export const UserAddRequest = signed(UserAddData);
export const UserListData = ownerData('user_list', { after: Username.optional(), limit: z.int().min(1).max(1000).optional() });
export const UserListRequest = signed(UserListData);
export const UserRolesData = ownerData('user_roles', { username: Username, roles: UserRoles });
export const UserRolesRequest = signed(UserRolesData);
export const UserResetData = ownerData('user_reset', { username: Username, password: Password });
export const UserResetRequest = signed(UserResetData);
export const UserRemoveData = ownerData('user_remove', { username: Username });
export const UserRemoveRequest = signed(UserRemoveData);
/** An invite for one sign-up: `roles` the new user gets (default none), valid `ttl_seconds` (default 7 days). */
export const InviteCreateData = ownerData('invite_create', {
  roles: UserRoles.optional(),
  ttl_seconds: z
    .int()
    .min(60)
    .max(30 * 86400)
    .optional(),
});
export const InviteCreateRequest = signed(InviteCreateData);

/** Every `data.context` of the `auth_admin` purpose. */
export const AUTH_ADMIN_ACTIONS = [
  'signup_policy',
  'user_add',
  'user_list',
  'user_roles',
  'user_reset',
  'user_remove',
  'invite_create',
] as const;
export type AuthAdminAction = (typeof AUTH_ADMIN_ACTIONS)[number];

export type SignupPolicy = z.infer<typeof SignupPolicy>;
export type SignUpBody = z.infer<typeof SignUpBody>;
export type LoginBody = z.infer<typeof LoginBody>;
export type SignupPolicyData = z.infer<typeof SignupPolicyData>;
export type UserAddData = z.infer<typeof UserAddData>;
export type UserListData = z.infer<typeof UserListData>;
export type UserRolesData = z.infer<typeof UserRolesData>;
export type UserResetData = z.infer<typeof UserResetData>;
export type UserRemoveData = z.infer<typeof UserRemoveData>;
export type InviteCreateData = z.infer<typeof InviteCreateData>;

// Answers of the owner routes and the published revocations; clients parse them with these.
export const SignupPolicyAnswer = z.object({ app_id: AppIdString, policy: SignupPolicy, default_roles: z.array(z.string()) });
export const UserAnswer = z.object({ app_id: AppIdString, username: z.string(), roles: z.array(z.string()) });
export const UserList = z.object({
  app_id: AppIdString,
  users: z.array(z.object({ username: z.string(), roles: z.array(z.string()), created_at: Timestamp })),
  /** Pass as `after` for the next page; null at the end. */
  next: z.string().nullable(),
});
/** Earlier tokens of the user are void from `revoked_at` on (published at `<issuer>/v1/revoked-subjects`). */
export const RevokedAnswer = z.object({ app_id: AppIdString, username: z.string(), revoked_at: Timestamp });
export const UserRolesAnswer = UserAnswer.extend({ revoked_at: Timestamp });
export const InviteAnswer = z.object({
  app_id: AppIdString,
  /** The single-use code; only its hash is kept by the Auth Provider. */
  invite: z.string(),
  roles: z.array(z.string()),
  expires_at: Timestamp,
});
/** `GET {issuer}/v1/revoked-subjects`: users whose tokens issued at or before `revoked_at` are void. */
export const RevokedSubjects = z.object({
  subjects: z.array(z.object({ sub_hash: z.string().max(64), revoked_at: Timestamp })).max(100_000),
});

export type SignupPolicyAnswer = z.infer<typeof SignupPolicyAnswer>;
export type UserAnswer = z.infer<typeof UserAnswer>;
export type UserList = z.infer<typeof UserList>;
export type RevokedAnswer = z.infer<typeof RevokedAnswer>;
export type UserRolesAnswer = z.infer<typeof UserRolesAnswer>;
export type InviteAnswer = z.infer<typeof InviteAnswer>;
export type RevokedSubjects = z.infer<typeof RevokedSubjects>;
