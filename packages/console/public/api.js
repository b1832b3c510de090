// The console's JSON API: reads with the session cookie, changes with the CSRF token too.
let csrf = '';

export function setCsrf(token) {
  csrf = token;
}

const HINTS = {
  invalid_token: 'the session ended: start `swarm console` again and open the URL it prints',
  forbidden: 'the console refused this request; reload the page',
  invalid_signature: "sign with the namespace's current Master key (restart with the new --key)",
  unknown_provider: 'pick a provider from the catalog',
  unsupported_tier: 'pick a tier the provider offers',
  unsupported_region: 'pick a region the provider offers',
  storage_limit_exceeded: 'ask for less storage or a larger tier',
  quota_exceeded: 'the app has reached its instance quota for this tier',
  registry_unavailable: 'is the swarm running? (`npm start`)',
  not_found: 'it may be gone already; the page refreshes',
  gone: 'the instance was decommissioned already',
  rate_limited: 'too many at once: wait a moment',
  conflict: 'wait for running actions to finish',
};

export function hintFor(code) {
  return HINTS[code] ?? '';
}

async function answer(response) {
  const body = await response.json().catch(() => ({}));
  if (response.ok) return body;
  const error = new Error(body?.error?.message ?? `the console answered ${response.status}`);
  error.code = body?.error?.code ?? 'internal_error';
  throw error;
}

export async function get(path) {
  return answer(await fetch(path, { headers: { accept: 'application/json' }, credentials: 'same-origin' }));
}

export async function post(path, body) {
  const headers = { 'content-type': 'application/json', 'x-csrf-token': csrf };
  return answer(await fetch(path, { method: 'POST', headers, body: JSON.stringify(body), credentials: 'same-origin' }));
}

export const appPath = (appId) => `/api/apps/${encodeURIComponent(appId)}`;
