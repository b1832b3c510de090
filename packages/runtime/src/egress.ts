import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { SwarmError, TrustedRegistries, type TrustedRegistry } from '@swarm/protocol';
import { Agent, type Dispatcher } from 'undici';

/**
 * What a part may send to when the URL was chosen by a tenant (backbone URLs of operational
 * contexts, auth provider URLs, providers' events URLs, report receivers). The default refuses
 * every address that reaches inside the operator's network; `allow` lists CIDRs the operator
 * lets through anyway (`swarm up` allows loopback, where everything runs).
 */
export interface EgressOptions {
  /** CIDRs (`10.1.0.0/16`, `::1/128`) or single addresses allowed despite the rules below. Default none. */
  allow?: readonly string[];
  /** Connections open at once to one origin. Default 6, what browsers keep per host. */
  connectionsPerHost?: number;
  /** Connect timeout in ms. Default 5000. */
  connectTimeoutMs?: number;
}

export const DEFAULT_CONNECTIONS_PER_HOST = 6;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** Loopback, both families: what `swarm up` and the test helpers allow. */
export const LOOPBACK_CIDRS: readonly string[] = ['127.0.0.0/8', '::1/128'];

interface Cidr {
  text: string;
  bytes: Uint8Array;
  prefix: number;
}

/** The address as 4 or 16 bytes, or null when it is not an IP address. */
function addressBytes(address: string): Uint8Array | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = isIP(bare);
  if (family === 4) return Uint8Array.from(bare.split('.').map(Number));
  if (family !== 6) return null;
  // A zone (`fe80::1%eth0`) does not change which range the address is in.
  let text = bare.replace(/%.*$/, '');
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -tail[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const groups = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    const value = Number.parseInt(group, 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  });
  return bytes;
}

function parseCidr(text: string): Cidr {
  const [address = '', prefixText] = text.trim().split('/');
  const bytes = addressBytes(address);
  const bits = bytes ? bytes.length * 8 : 0;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!bytes || !/^\d*$/.test(prefixText ?? '') || !Number.isInteger(prefix) || prefix < 0 || prefix > bits) {
    throw new SwarmError('invalid_request', `${JSON.stringify(text)} is not a CIDR (like 10.0.0.0/8 or fd00::/8)`);
  }
  return { text: `${address}/${prefix}`, bytes, prefix };
}

function inCidr(bytes: Uint8Array, cidr: Cidr): boolean {
  if (bytes.length !== cidr.bytes.length) return false;
  for (let bit = 0; bit < cidr.prefix; bit += 8) {
    const mask = cidr.prefix - bit >= 8 ? 0xff : (0xff << (8 - (cidr.prefix - bit))) & 0xff;
    if ((bytes[bit / 8]! & mask) !== (cidr.bytes[bit / 8]! & mask)) return false;
  }
  return true;
}

/** Every range a tenant's URL may not reach by default, named as a refusal names it. */
const DENIED: ReadonlyArray<{ rule: string; cidrs: Cidr[] }> = [
  { rule: 'unspecified', cidrs: ['0.0.0.0/8', '::/128'] },
  { rule: 'loopback', cidrs: ['127.0.0.0/8', '::1/128'] },
  { rule: 'private', cidrs: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] },
  { rule: 'link-local', cidrs: ['169.254.0.0/16', 'fe80::/10'] },
  { rule: 'shared address space (CGNAT)', cidrs: ['100.64.0.0/10'] },
  { rule: 'unique local', cidrs: ['fc00::/7'] },
  { rule: 'multicast', cidrs: ['224.0.0.0/4', 'ff00::/8'] },
  { rule: 'reserved', cidrs: ['240.0.0.0/4'] },
  // 6to4 and Teredo carry an IPv4 address elsewhere than the last 32 bits, and local-use NAT64
  // (RFC 8215) maps to whatever the site chose: a server never needs them to reach a tenant's
  // backbone, so they are refused whole rather than decoded (6to4's relay anycast is deprecated, RFC 7526).
  { rule: 'IPv4 transition (6to4, Teredo, local NAT64)', cidrs: ['2002::/16', '2001::/32', '64:ff9b:1::/48'] },
].map(({ rule, cidrs }) => ({ rule, cidrs: cidrs.map(parseCidr) }));

/** IPv6 forms that carry an IPv4 address in their last 32 bits: it is the IPv4 address that counts. */
const EMBEDDING_V4 = ['::ffff:0:0/96', '64:ff9b::/96', '::/96'].map(parseCidr);

function embeddedV4(bytes: Uint8Array): Uint8Array | null {
  if (bytes.length !== 16) return null;
  // `::` and `::1` are the IPv6 unspecified and loopback addresses, not IPv4-compatible ones.
  if (bytes.subarray(0, 15).every((b) => b === 0) && bytes[15]! <= 1) return null;
  return EMBEDDING_V4.some((cidr) => inCidr(bytes, cidr)) ? bytes.slice(12) : null;
}

/**
 * The rule that refuses `address` (`loopback 127.0.0.0/8`) unless one of `allow` covers it; null
 * when it may be connected to. What is not an IP address is refused too.
 */
export function egressRefusal(address: string, allow: readonly string[] = []): string | null {
  const bytes = addressBytes(address);
  if (!bytes) return `${address} is not an IP address`;
  const allowed = allow.map(parseCidr);
  const forms = [bytes, embeddedV4(bytes)].filter((form): form is Uint8Array => form !== null);
  if (forms.some((form) => allowed.some((cidr) => inCidr(form, cidr)))) return null;
  for (const form of forms) {
    for (const { rule, cidrs } of DENIED) {
      const hit = cidrs.find((cidr) => inCidr(form, cidr));
      if (hit) return `${rule} ${hit.text}`;
    }
  }
  return null;
}

/** Splits `--allow-egress 10.0.0.0/8,fd00::/8` and refuses what is not a CIDR. */
export function parseAllowList(list: string): string[] {
  const entries = list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of entries) parseCidr(entry);
  return entries;
}

const LOCALHOST = /^localhost\.?$|\.localhost\.?$/i;

/** Whether a URL's host is this machine: `localhost` (RFC 6761) or a loopback address. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (LOCALHOST.test(host)) return true;
  return isIP(host) !== 0 && egressRefusal(host)?.startsWith('loopback ') === true;
}

/**
 * Where a tenant's URL may point, judged without resolving names: the checks made when an owner
 * sets a URL. A host name is checked again, on every address it resolves to, at connect time.
 */
/** A part's policy: its `egress` options, with its trusted registries as the operator's own destinations. */
export function egressPolicyOf(options: {
  egress?: EgressOptions;
  trustedRegistries: TrustedRegistry[] | TrustedRegistries;
}): EgressPolicy {
  // Registries added to a live table later are reached without the egress pool (requests to a
  // registry are the operator's own), so the origins known at start are enough here.
  return new EgressPolicy(
    options.egress,
    TrustedRegistries.of(options.trustedRegistries)
      .list()
      .map((registry) => registry.baseUrl),
  );
}

export class EgressPolicy {
  readonly allow: readonly string[];
  readonly connectionsPerHost: number;
  readonly connectTimeoutMs: number;
  readonly #operatorOrigins: Set<string>;

  /** `operatorUrls`: destinations the operator configured (trusted registries, default backbone): never refused. */
  constructor(options: EgressOptions = {}, operatorUrls: ReadonlyArray<string | null | undefined> = []) {
    this.allow = [...(options.allow ?? [])];
    for (const entry of this.allow) parseCidr(entry);
    this.connectionsPerHost = options.connectionsPerHost ?? DEFAULT_CONNECTIONS_PER_HOST;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#operatorOrigins = new Set(operatorUrls.flatMap((url) => (url && URL.canParse(url) ? [new URL(url).origin] : [])));
  }

  /** The rule refusing a resolved address, or null. */
  refusal(address: string): string | null {
    return egressRefusal(address, this.allow);
  }

  isOperatorOrigin(url: URL): boolean {
    return this.#operatorOrigins.has(url.origin);
  }

  /**
   * Why `url` may not be sent to, or null: not http(s), or a literal address (or `localhost`,
   * RFC 6761) a rule refuses. Operator-configured origins always pass.
   */
  urlRefusal(url: string): string | null {
    if (!URL.canParse(url)) return 'it is not a URL';
    const target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return `it must be http(s), not ${target.protocol}`;
    if (this.isOperatorOrigin(target)) return null;
    const literal = this.literalRefusal(target);
    if (literal) return literal;
    const host = target.hostname;
    if (LOCALHOST.test(host)) {
      const rule = this.refusal('127.0.0.1');
      return rule && `localhost is ${rule}; the egress policy refuses it`;
    }
    return null;
  }

  /**
   * Why the address written in `url` may not be connected to, or null (also for a host name:
   * names are judged on what they resolve to, when connecting).
   */
  literalRefusal(url: URL): string | null {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!isIP(host)) return null;
    const rule = this.refusal(host);
    return rule && `its address is ${rule}; the egress policy refuses it`;
  }

  /** Refuses a URL an owner sets as `400 invalid_request` naming the field and the rule. */
  requireAllowed(field: string, url: string | null | undefined): void {
    if (url === null || url === undefined) return;
    const refusal = this.urlRefusal(url);
    if (refusal) throw new SwarmError('invalid_request', `${field} ${url}: ${refusal}`);
  }
}

/** The code of the connect error a refused resolved address gives. */
export const EGRESS_REFUSED = 'SWARM_EGRESS_REFUSED';

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A part's outbound side: its policy and the connection pool that enforces it. The pool resolves
 * names itself and connects only to addresses the policy lets through, so a name that resolves
 * to a public address when checked and to an internal one when connected (DNS rebinding) is
 * refused all the same.
 */
export class Egress {
  readonly policy: EgressPolicy;
  readonly #agent: Agent;

  constructor(policy: EgressPolicy) {
    this.policy = policy;
    const lookup = (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback) => {
      dnsLookup(hostname, { family: options.family ?? 0, all: true }, (error, addresses) => {
        if (error) return callback(error, []);
        const allowed = addresses.filter((entry) => policy.refusal(entry.address) === null);
        const first = allowed[0];
        if (!first) {
          const rule = addresses[0] ? policy.refusal(addresses[0].address) : 'no address';
          const refused: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${rule}; the egress policy refuses it`);
          refused.code = EGRESS_REFUSED;
          return callback(refused, []);
        }
        if (options.all) callback(null, allowed);
        else callback(null, first.address, first.family);
      });
    };
    this.#agent = new Agent({
      connections: policy.connectionsPerHost,
      connect: { timeout: policy.connectTimeoutMs, lookup } as Agent.Options['connect'],
    });
  }

  /** The pool a request to `url` goes through: none of ours for the operator's own destinations. */
  dispatcherFor(url: URL): Dispatcher | undefined {
    return this.policy.isOperatorOrigin(url) ? undefined : this.#agent;
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}
