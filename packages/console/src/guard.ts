import { SwarmError } from '@swarm/protocol';

/**
 * Which requests the console serves at all. It listens on 127.0.0.1 only, but a page on any
 * site can still make the browser send to it: DNS rebinding (a name of theirs now resolving to
 * 127.0.0.1) arrives with their Host, and a cross-site form or fetch arrives with their Origin
 * and `Sec-Fetch-Site: cross-site`. So the Host must be the console's own `127.0.0.1:<port>`,
 * and whatever the browser says of the request's origin must be the console itself.
 */
export function checkRequest(origin: string, headers: Record<string, string | string[] | undefined>, method: string): void {
  const host = headers.host;
  if (host !== new URL(origin).host) throw new SwarmError('forbidden', 'wrong Host: open the console at the URL it printed');
  const site = headers['sec-fetch-site'];
  // `none`: typed or pasted into the address bar, or opened from another program.
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new SwarmError('forbidden', 'requests from other sites are refused');
  }
  const from = headers.origin;
  const changes = method !== 'GET' && method !== 'HEAD';
  if (from !== undefined && from !== origin) throw new SwarmError('forbidden', 'requests from other origins are refused');
  // A browser always names the origin of a POST; one that does not is not a page of ours.
  if (changes && from === undefined) throw new SwarmError('forbidden', 'a change needs the Origin header of the console');
}
