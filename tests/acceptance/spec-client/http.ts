/** A parsed JSON answer; tests check its shape with assertions. */
// biome-ignore lint/suspicious/noExplicitAny: answers are untyped JSON checked by the tests
export type Json = any;

export interface Answer {
  status: number;
  body: Json;
  text: string;
  headers: Headers;
}

export interface CallOptions {
  /** A string or Buffer is sent as is (for malformed bodies); anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

export async function call(method: string, url: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | Buffer | undefined;
  if (typeof options.body === 'string' || Buffer.isBuffer(options.body)) body = options.body;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  let parsed: Json = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: response.status, body: parsed, text, headers: response.headers };
}

export const post = (url: string, body: unknown, headers?: Record<string, string>) =>
  call('POST', url, { body, ...(headers ? { headers } : {}) });
export const get = (url: string, headers?: Record<string, string>) => call('GET', url, headers ? { headers } : {});

/** `status code` of an answer, for one-line assertions: `assert.equal(outcome(a), '404 unknown_app')`. */
export function outcome(answer: Answer): string {
  if (answer.status < 400) return `${answer.status}`;
  const error = answer.body?.error;
  // SPEC §14: every failure is { error: { code, message } }.
  if (typeof error?.code !== 'string' || typeof error.message !== 'string')
    return `${answer.status} <not a SPEC §14 error: ${answer.text.slice(0, 200)}>`;
  return `${answer.status} ${error.code}`;
}
