import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Ctx } from './fixtures/context.js';
import { type OwnBoundApp, ownBoundApp } from './fixtures/own-provider.js';
import { serviceCall } from './spec-client/binding.js';
import { dig, digMissing, zoneOf } from './spec-client/dig.js';
import { get, type Json, post } from './spec-client/http.js';
import { Receiver } from './spec-client/receiver.js';
import { serviceDns } from './spec-client/resolver.js';

const INSTANCES = 24;

export function dnsCases(ctx: Ctx, heartbeatSeconds: number): void {
  describe('SPEC §7 Service DNS over DNS (a stub resolver, and stock dig where installed) and §9.2 health', () => {
    const events = new Receiver();
    let own: OwnBoundApp;
    let srvName: string;
    const port = () => ctx().wellKnown.dns_port;
    const resolver = () => serviceDns(port());
    const beatAll = () =>
      Promise.all(
        own.instances.map((instance) =>
          post(
            `${ctx().registryUrl}/v1/apps/${own.appId}/services/${instance.serviceId}/heartbeat`,
            serviceCall(own.appId, instance, { status: 'ok' }),
          ),
        ),
      );

    before(async () => {
      await events.start();
      own = await ownBoundApp(ctx(), events.url, INSTANCES);
      srvName = `_${own.provider.serviceType}._tcp.${zoneOf(own.appId)}`;
    });
    after(() => events.close());

    test('SRV, TXT and the DNS-SD PTR list every healthy instance; a big answer is read whole', async () => {
      await beatAll();
      const srv = await resolver().srv(srvName);
      assert.equal(srv.status, 'NOERROR');
      assert.equal(srv.records.length, INSTANCES, JSON.stringify(srv.records));
      for (const record of srv.records) {
        // An endpoint given as an address is published under a name inside the app's zone that
        // carries it (docs/PROTOCOL.md): the target resolves, through the same server, to the address.
        assert.deepEqual([record.priority, record.weight], [0, 0]);
        assert.ok(record.name.endsWith(`.${zoneOf(own.appId).slice(0, -1)}`), record.name);
        assert.deepEqual((await resolver().a(record.name)).records, ['127.0.0.1']);
        assert.ok(
          own.instances.some((instance) => instance.endpointUrl.includes(`:${record.port}/`)),
          String(record.port),
        );
      }
      const txt = await resolver().txt(srvName);
      assert.equal(txt.records.length, INSTANCES);
      for (const instance of own.instances) {
        const line = txt.records.find((item) => item.includes(`service_id=${instance.serviceId}`));
        assert.ok(line, instance.serviceId);
        for (const part of [`endpoint_url=${instance.endpointUrl}`, `public_key=${instance.key.publicKey}`, 'tier=basic', 'region=local']) {
          assert.ok(line.includes(part), `${part} in ${line}`);
        }
      }
      const ptr = await resolver().ptr(`_services._dns-sd._udp.${zoneOf(own.appId)}`);
      assert.deepEqual(ptr.records, [srvName.slice(0, -1)]);
    });

    test('stock dig: authoritative answers, truncated over plain UDP and read whole over TCP', { skip: digMissing }, async () => {
      await beatAll();
      const srv = dig(port(), srvName, 'SRV');
      assert.equal(srv.status, 'NOERROR');
      assert.ok(srv.flags.includes('aa'), `flags ${srv.flags}`);
      assert.equal(srv.answers.length, INSTANCES, srv.answers.join('\n'));
      for (const line of srv.answers)
        assert.match(line, new RegExp(`\\sSRV\\s+0 0 \\d+ [a-z0-9-]+\\.${zoneOf(own.appId).replaceAll('.', '\\.')}$`));
      assert.equal(dig(port(), srvName, 'TXT').answers.length, INSTANCES);
      const udpOnly = dig(port(), srvName, 'TXT', '+ignore', '+noedns');
      assert.ok(udpOnly.flags.includes('tc'), `TC expected over plain UDP: ${udpOnly.flags}`);
    });

    test('unknown names inside the authority → NXDOMAIN, names outside → REFUSED', async () => {
      const unknownInApp = `_nothing._tcp.${zoneOf(own.appId)}`;
      const unknownApp = `_x._tcp.zzzzzz999.own_app.nobody.${ctx().wellKnown.authority}.`;
      assert.equal((await resolver().srv(unknownInApp)).status, 'NXDOMAIN');
      assert.equal((await resolver().srv(unknownApp)).status, 'NXDOMAIN');
      assert.equal((await resolver().a('example.com.')).status, 'REFUSED');
      if (digMissing) return;
      assert.equal(dig(port(), unknownInApp, 'SRV').status, 'NXDOMAIN');
      assert.equal(dig(port(), unknownApp, 'SRV').status, 'NXDOMAIN');
      assert.equal(dig(port(), 'example.com.', 'A').status, 'REFUSED');
    });

    test('an instance that misses 3 heartbeats is unhealthy: listed over HTTP, out of DNS, back when it beats', async () => {
      const [alive, ...silent] = own.instances;
      const deadline = Date.now() + (3 * heartbeatSeconds + 10) * 1000;
      const beatAlive = () =>
        post(
          `${ctx().registryUrl}/v1/apps/${own.appId}/services/${alive!.serviceId}/heartbeat`,
          serviceCall(own.appId, alive!, { status: 'ok' }),
        );
      await beatAlive();
      const txt = async () => (await resolver().txt(srvName)).records;
      let answers = await txt();
      while (answers.length !== 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await beatAlive();
        answers = await txt();
      }
      assert.equal(answers.length, 1, 'only the beating instance stays in DNS');
      assert.ok(answers[0]!.includes(alive!.serviceId));
      const http = await get(`${ctx().registryUrl}/v1/apps/${own.appId}/services`);
      assert.equal(http.body.records.length, INSTANCES, 'all still listed over HTTP');
      const record = http.body.records.find((item: Json) => item.service_id === silent[0]!.serviceId);
      assert.ok(JSON.stringify(record).includes('unhealthy'), JSON.stringify(record));
      await beatAll();
      assert.equal((await txt()).length, INSTANCES, 'back when they beat');
    });
  });
}
