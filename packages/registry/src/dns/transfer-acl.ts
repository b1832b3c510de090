import { BlockList, isIPv4 } from 'node:net';
import { parseAllowList } from '@swarm/runtime';

/**
 * Who may transfer the zone (`--dns-allow-transfer 192.0.2.7,2001:db8::/64`): addresses or CIDRs,
 * nobody by default. An IPv4 peer seen on a dual-stack socket (`::ffff:192.0.2.7`) is judged as the
 * IPv4 address it is. There is no TSIG: the list names the secondaries' addresses, which TCP's
 * handshake keeps from being forged.
 */
export class TransferAcl {
  readonly #allowed = new BlockList();
  readonly entries: readonly string[];

  /** Throws `invalid_request` for an entry that is not an address or CIDR. */
  constructor(entries: readonly string[] = []) {
    this.entries = parseAllowList(entries.join(','));
    for (const entry of this.entries) {
      const [address = '', prefix] = entry.split('/');
      const bare = address.replace(/^\[(.*)\]$/, '$1');
      const family = isIPv4(bare) ? 'ipv4' : 'ipv6';
      this.#allowed.addSubnet(bare, prefix === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefix), family);
    }
  }

  allows(peerAddress: string): boolean {
    if (this.entries.length === 0) return false;
    const address = peerAddress.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
    return this.#allowed.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  }
}

/** `--dns-allow-transfer` / SWARM_DNS_ALLOW_TRANSFER: comma-separated addresses or CIDRs. */
export function parseTransferAllowList(text: string): string[] {
  return new TransferAcl(text.split(',')).entries.slice();
}
