/** HTTP for tests: any status, any body (a string is sent as is, to send malformed input). */

export interface JsonAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers loosely
  body: any;
}

/** One HTTP exchange; `body` may be a raw string to send malformed input. */
export async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  const response = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

export const post = (url: string, body: unknown, headers?: Record<string, string>) => call('POST', url, body, headers);
export const get = (url: string, headers?: Record<string, string>) => call('GET', url, undefined, headers);
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
