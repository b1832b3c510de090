import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { registryOptionsFromEnv } from '../src/config.js';
import { clientSerial } from '../src/dns/transfer.js';
import { parseTransferAllowList, TransferAcl } from '../src/dns/transfer-acl.js';
import { ZoneVersion } from '../src/dns/zone-version.js';
import { transferQuery } from './dns-transfer-client.js';

describe('zone transfer allow-list', () => {
  it('allows listed addresses and ranges only; an IPv4 peer on a dual-stack socket is judged as IPv4', () => {
    const acl = new TransferAcl(['192.0.2.7', '198.51.100.0/24', '2001:db8::/32']);
    for (const allowed of ['192.0.2.7', '::ffff:192.0.2.7', '198.51.100.200', '2001:db8::53']) assert.ok(acl.allows(allowed), allowed);
    for (const refused of ['192.0.2.8', '127.0.0.1', '::1', '::ffff:127.0.0.1', '2001:db9::1', '', 'not-an-address'])
      assert.equal(acl.allows(refused), false, refused);
  });

  it('allows nobody by default', () => {
    assert.equal(new TransferAcl().allows('127.0.0.1'), false);
    assert.equal(new TransferAcl([]).allows('::1'), false);
  });

  it('refuses an entry that is not an address or CIDR with invalid_request', () => {
    for (const bad of ['example.com', '10.0.0.0/33', '192.0.2.1/x', '::1/129'])
      assert.throws(() => parseTransferAllowList(bad), { code: 'invalid_request' }, bad);
    assert.deepEqual(parseTransferAllowList(' 192.0.2.1 , ::1 '), ['192.0.2.1', '::1']);
  });

  it('is read from SWARM_DNS_ALLOW_TRANSFER', () => {
    assert.deepEqual(registryOptionsFromEnv({ SWARM_DNS_ALLOW_TRANSFER: '127.0.0.1,10.0.0.0/8' }).dnsAllowTransfer, [
      '127.0.0.1',
      '10.0.0.0/8',
    ]);
    assert.equal(registryOptionsFromEnv({}).dnsAllowTransfer, undefined);
    assert.throws(() => registryOptionsFromEnv({ SWARM_DNS_ALLOW_TRANSFER: 'everyone' }), { code: 'invalid_request' });
  });

  it('never throws on any peer address (property)', () => {
    const acl = new TransferAcl(['10.0.0.0/8', 'fd00::/8']);
    fc.assert(fc.property(fc.oneof(fc.string(), fc.ipV4(), fc.ipV6()), (address) => typeof acl.allows(address) === 'boolean'));
  });
});

describe('zone version (the SOA serial)', () => {
  const hour = 1_800_000_000 - (1_800_000_000 % 3600);

  it('starts at the start time, steps at every hour, and moves on each change, twice in one second too', () => {
    const version = new ZoneVersion(hour + 10);
    assert.equal(version.serial(hour + 20), hour + 10);
    version.changed(hour + 30);
    assert.equal(version.serial(hour + 30), hour + 30);
    version.changed(hour + 30);
    assert.equal(version.serial(hour + 30), hour + 31);
    assert.equal(version.serial(hour + 3600), hour + 3600);
  });

  it('gives a burst of changes no one saw a serial between one new serial', () => {
    const version = new ZoneVersion(hour + 10);
    assert.equal(version.serial(hour + 20), hour + 10);
    for (let i = 0; i < 100; i++) version.changed(hour + 20);
    assert.equal(version.serial(hour + 20), hour + 20, 'the clock, not 100 past the start');
    version.changed(hour + 20);
    assert.equal(version.serial(hour + 20), hour + 21, 'a change after a serial was handed out moves it again');
  });

  it('never sends different records under one serial', () => {
    const version = new ZoneVersion(hour);
    const first = version.observed('a', hour + 5);
    assert.equal(version.observed('a', hour + 6), first, 'the same records, the same serial');
    const second = version.observed('b', hour + 7);
    assert.ok(second > first);
    assert.equal(version.observed('b', hour + 8), second);
  });

  it('never goes back (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(100), fc.boolean(), fc.string({ maxLength: 2 })), { maxLength: 50 }), (steps) => {
        const version = new ZoneVersion(hour);
        let now = hour;
        let last = version.serial(now);
        for (const [advance, change, digest] of steps) {
          now += advance;
          if (change) version.changed(now);
          const serial = change ? version.serial(now) : version.observed(digest, now);
          if (serial < last) return false;
          last = serial;
        }
        return true;
      }),
    );
  });
});

describe('IXFR client serial', () => {
  it('reads the serial of the SOA in the authority section, and null without one', () => {
    assert.equal(clientSerial(transferQuery('swarm.local', 'IXFR', 1_795_000_000)), 1_795_000_000);
    assert.equal(clientSerial(transferQuery('swarm.local', 'AXFR')), null);
  });

  it('never throws on any message (property)', () => {
    const valid = transferQuery('swarm.local', 'IXFR', 7);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(valid.length), (bytes, cut) => {
        for (const message of [Buffer.from(bytes), valid.subarray(0, cut), Buffer.concat([valid.subarray(0, cut), Buffer.from(bytes)])]) {
          const serial = clientSerial(message);
          if (serial !== null && !Number.isInteger(serial)) return false;
        }
        return true;
      }),
    );
  });
});
