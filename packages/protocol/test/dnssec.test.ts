import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalNameWire, dnskeyRdata, dsRecord, keyTag } from '../src/index.js';

describe('DNSSEC key records (RFC 4034, RFC 8080)', () => {
  it('gives the DS of the Ed25519 example of RFC 8080 §6.1', () => {
    const publicKey = Buffer.from('l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=', 'base64');
    const rdata = dnskeyRdata(publicKey);
    assert.equal(rdata.toString('hex').slice(0, 8), '0101030f', 'flags 257, protocol 3, algorithm 15');
    assert.deepEqual(dsRecord('example.com.', rdata), {
      keyTag: 3613,
      algorithm: 15,
      digestType: 2,
      digest: '3AA5AB37EFCE57F737FC1627013FEE07BDF241BD10F3B1964AB55C78E79A304B',
    });
  });

  it('writes names in canonical form, with or without the root dot, in any case', () => {
    assert.deepEqual(canonicalNameWire('Swarm.LOCAL.'), Buffer.from('\x05swarm\x05local\x00', 'latin1'));
    assert.deepEqual(canonicalNameWire('swarm.local'), canonicalNameWire('SWARM.local.'));
  });

  it('computes key tags as the checksum of RFC 4034 Appendix B for any key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(256, 257), (key, flags) => {
        const rdata = dnskeyRdata(key, flags);
        let sum = 0;
        for (const [index, byte] of rdata.entries()) sum += index % 2 === 0 ? byte * 256 : byte;
        const expected = (sum + Math.floor(sum / 65536)) % 65536;
        assert.equal(keyTag(rdata), expected);
        assert.ok(keyTag(rdata) >= 0 && keyTag(rdata) <= 0xffff);
      }),
      { numRuns: 300 },
    );
  });
});
