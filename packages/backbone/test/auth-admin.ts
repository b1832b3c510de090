import { type Developer, masterSigned, post } from './network.js';

/** An `auth_admin` request of `developer` (Master-signed unless `key` says otherwise) to `<issuer><path>`. */
export function adminRequest(
  issuer: string,
  developer: Developer,
  path: string,
  context: string,
  data: Record<string, unknown> = {},
  key = developer.master,
) {
  return post(`${issuer}${path}`, masterSigned('auth_admin', developer, { context, ...data }, key));
}

/** Sets the app's sign-up policy, failing the test when refused. */
export async function setSignup(issuer: string, developer: Developer, policy: string, defaultRoles?: string[]): Promise<void> {
  const answer = await adminRequest(issuer, developer, '/v1/admin/signup-policy', 'signup_policy', {
    policy,
    ...(defaultRoles ? { default_roles: defaultRoles } : {}),
  });
  if (answer.status !== 200) throw new Error(`signup policy: ${JSON.stringify(answer.body)}`);
}
