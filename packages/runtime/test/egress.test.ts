import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Egress, EgressPolicy, egressRefusal, isLoopbackHost, parseAllowList, requestJson } from '../src/index.js';

describe('egressRefusal', () => {
  it('names the rule refusing each internal range, in both families and in IPv6 forms of IPv4', () => {
    const cases: Array<[string, string]> = [
      ['127.0.0.1', 'loopback 127.0.0.0/8'],
      ['127.255.0.9', 'loopback 127.0.0.0/8'],
      ['::1', 'loopback ::1/128'],
      ['0.0.0.0', 'unspecified 0.0.0.0/8'],
      ['::', 'unspecified ::/128'],
      ['10.20.30.40', 'private 10.0.0.0/8'],
      ['172.31.255.255', 'private 172.16.0.0/12'],
      ['192.168.1.1', 'private 192.168.0.0/16'],
      ['169.254.169.254', 'link-local 169.254.0.0/16'],
      ['fe80::1%eth0', 'link-local fe80::/10'],
      ['100.64.0.1', 'shared address space (CGNAT) 100.64.0.0/10'],
      ['fd12:3456::1', 'unique local fc00::/7'],
      ['224.0.0.251', 'multicast 224.0.0.0/4'],
      ['ff02::1', 'multicast ff00::/8'],
      ['255.255.255.255', 'reserved 240.0.0.0/4'],
      ['::ffff:127.0.0.1', 'loopback 127.0.0.0/8'],
      ['::ffff:a9fe:a9fe', 'link-local 169.254.0.0/16'],
      ['64:ff9b::10.0.0.1', 'private 10.0.0.0/8'],
      ['::7f00:1', 'loopback 127.0.0.0/8'],
      ['2002:7f00:1::1', 'IPv4 transition (6to4, Teredo, local NAT64) 2002::/16'],
      ['2002:a9fe:a9fe::', 'IPv4 transition (6to4, Teredo, local NAT64) 2002::/16'],
      ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'IPv4 transition (6to4, Teredo, local NAT64) 2001::/32'],
      ['64:ff9b:1::a00:1', 'IPv4 transition (6to4, Teredo, local NAT64) 64:ff9b:1::/48'],
    ];
    for (const [address, rule] of cases) assert.equal(egressRefusal(address), rule, address);
    for (const address of ['93.184.215.14', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '11.0.0.1']) {
      assert.equal(egressRefusal(address), null, address);
    }
  });

  it('lets the CIDRs an operator allows through, and nothing else', () => {
    assert.equal(egressRefusal('127.0.0.1', ['127.0.0.0/8']), null);
    assert.equal(egressRefusal('::ffff:127.0.0.1', ['127.0.0.0/8']), null);
    assert.equal(egressRefusal('10.1.2.3', ['10.1.0.0/16']), null);
    assert.equal(egressRefusal('10.2.0.1', ['10.1.0.0/16']), 'private 10.0.0.0/8');
    assert.equal(egressRefusal('fd00::5', ['fd00::/64']), null);
    assert.equal(egressRefusal('192.168.0.7', ['192.168.0.7']), null);
  });

  it('parses allow lists and refuses what is not a CIDR', () => {
    assert.deepEqual(parseAllowList(' 10.0.0.0/8, ::1/128 ,'), ['10.0.0.0/8', '::1/128']);
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/x', '::1/129', '10.0.0/8']) {
      assert.throws(() => parseAllowList(bad), { code: 'invalid_request' }, bad);
    }
  });

  it('knows loopback hosts', () => {
    for (const host of ['localhost', 'app.localhost', '127.0.0.1', '[::1]', '127.1.2.3']) assert.equal(isLoopbackHost(host), true, host);
    for (const host of ['example.com', '10.0.0.1', 'localhost.example.com', '[fd00::1]']) assert.equal(isLoopbackHost(host), false, host);
  });
});

describe('requestJson under an egress policy', () => {
  let server: Server;
  let port = 0;
  let connections = 0;
  let open = 0;
  let mostOpen = 0;
  before(async () => {
    server = createServer((request, response) => {
      open++;
      mostOpen = Math.max(mostOpen, open);
      request.resume();
      // Slow enough that parallel requests need parallel connections.
      setTimeout(() => {
        open--;
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      }, 50);
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('refuses a loopback address and a name that resolves to one, without connecting', async () => {
    const egress = new Egress(new EgressPolicy());
    try {
      const before = connections;
      await assert.rejects(requestJson('GET', `http://127.0.0.1:${port}/`, undefined, { egress }), {
        code: 'registry_unavailable',
        message: /loopback 127\.0\.0\.0\/8/,
      });
      // `localhost` passes the literal check; its resolved addresses are refused at connect.
      await assert.rejects(requestJson('GET', `http://localhost:${port}/`, undefined, { egress }), {
        code: 'registry_unavailable',
        message: /loopback/,
      });
      assert.equal(connections, before);
    } finally {
      await egress.close();
    }
  });

  it('sends to the operator destinations and to allowed ranges, with bounded connections per host', async () => {
    const operator = new Egress(new EgressPolicy({}, [`http://127.0.0.1:${port}`]));
    const allowed = new Egress(new EgressPolicy({ allow: ['127.0.0.0/8'], connectionsPerHost: 2 }));
    try {
      assert.equal((await requestJson('GET', `http://127.0.0.1:${port}/`, undefined, { egress: operator })).status, 200);
      mostOpen = 0;
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => requestJson('GET', `http://localhost:${port}/`, undefined, { egress: allowed })),
      );
      assert.ok(answers.every((answer) => answer.status === 200));
      assert.ok(mostOpen <= 2, `${mostOpen} requests were open at once`);
    } finally {
      await operator.close();
      await allowed.close();
    }
  });
});
