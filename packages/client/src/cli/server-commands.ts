import { join } from 'node:path';
import { writeAdminToken } from '@swarm/dev-env/admin-token';
import { LOCAL_AUTHORITY, STANDARD_PORTS } from '@swarm/dev-env/ports';
import type { Command } from 'commander';
import { action, integer, optional } from './common.js';
import { table } from './output.js';

// Server packages are imported inside the actions, so developer commands start without loading them.
export function addServerCommands(program: Command): Command {
  program
    .command('up')
    .description('run a whole swarm on this machine (registry, auth, billing, logging, cms-article, crm-contact, storage-blob)')
    .option('--data <dir>', 'state folder (env SWARM_DATA_DIR)', process.env.SWARM_DATA_DIR || '.swarm')
    .option('--log-level <level>', 'server log level: trace, debug, info, warn, error or silent', process.env.SWARM_LOG_LEVEL || 'warn')
    .action(
      action(async (ctx) => {
        const { TestNetwork } = await import('@swarm/dev-env');
        const swarm = await TestNetwork.create({
          dataDir: optional(ctx, 'data') ?? '.swarm',
          ports: 'standard',
          logLevel: optional(ctx, 'logLevel') ?? 'warn',
        });
        const rows = swarm.parts.map((part) => [part.name, part.url, part.dataDir]);
        if (swarm.registry.dnsPort) rows.splice(1, 0, ['dns', `udp+tcp 127.0.0.1:${swarm.registry.dnsPort}`, '']);
        const summary = { ...swarm.summary().registry, parts: swarm.parts, admin_token_file: swarm.adminTokenFile };
        print(
          ctx.json,
          summary,
          `${table(['part', 'listens on', 'data'], rows)}\n\nregistry ${swarm.registry.authority} key ${swarm.registry.publicKey}\n` +
            `admin token in ${swarm.adminTokenFile}\n` +
            `web console for your apps: swarm console --registry ${swarm.registry.url} --key master.pem --namespace <your namespace>\n` +
            'the swarm is up; Ctrl-C stops it',
        );
        await untilSignal();
        process.stderr.write('stopping: services flush their reports…\n');
        await swarm.close();
        process.stderr.write('stopped\n');
        return undefined;
      }),
    );

  program
    .command('registry')
    .description('run an App Registry alone (HTTP + Service DNS); SWARM_* environment variables fill unset flags')
    .option('--port <n>', `HTTP port (default ${STANDARD_PORTS.registry}; env SWARM_REGISTRY_PORT)`, integer)
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--public-url <url>', 'the URL peers use to reach it (env SWARM_PUBLIC_URL)')
    .option('--dns-port <n>', `Service DNS port, or off (default ${STANDARD_PORTS.dns}; env SWARM_DNS_PORT)`)
    .option(
      '--dns-rate-limit <n>',
      'UDP answers per second per client /24 or /56, 0 = off (default 200; env SWARM_DNS_RATE_LIMIT)',
      integer,
    )
    .option('--dns-slip <n>', 'every Nth answer over the limit goes out truncated, 0 = none (default 2; env SWARM_DNS_SLIP)', integer)
    .option(
      '--dns-tcp-lifetime <ms>',
      'a DNS TCP connection is closed after this long (default 30000; env SWARM_DNS_TCP_LIFETIME_MS)',
      integer,
    )
    .option('--dns-tcp-per-address <n>', 'open DNS TCP connections per client address (default 16; env SWARM_DNS_TCP_PER_ADDRESS)', integer)
    .option(
      '--dns-ns <list>',
      "the zone's name servers, name[=address],… (a name inside the authority needs its address; default ns1.<authority>=<host>; env SWARM_DNS_NS)",
    )
    .option(
      '--dns-address-targets <how>',
      'SRV target of an endpoint given as an address: host (127.0.0.1., SPEC §7; default) or zone (<service_id>.<app zone> with its A record, for delegation; env SWARM_DNS_ADDRESS_TARGETS)',
    )
    .option('--no-dnssec', 'answer Service DNS unsigned (env SWARM_DNSSEC=off)')
    .option(
      '--dnssec-key <file>',
      'DNSSEC key(s), PKCS#8 PEM Ed25519, all published and signing; default: created once, kept in the database (env SWARM_DNSSEC_KEY_FILE)',
    )
    .option('--authority <name>', `registry authority <registry>.<tld> (default ${LOCAL_AUTHORITY}; env SWARM_AUTHORITY)`)
    .option('--database-url <url>', 'postgres://… shared by replicas; default SQLite under --data (env SWARM_DATABASE_URL)')
    .option('--registry-key <file>', 'signing key, PKCS#8 PEM; default: created once, kept in the database (env SWARM_REGISTRY_KEY_FILE)')
    .option('--admission-token <token>', 'require it to claim a namespace (env SWARM_ADMISSION_TOKEN); default: open')
    .option(
      '--instance-quotas <list>',
      'active instances per app/per namespace by tier, default free=100/1000,*=1000/10000 (env SWARM_INSTANCE_QUOTAS)',
    )
    .option('--billing-url <url>', `default Billing of new apps (default http://127.0.0.1:${STANDARD_PORTS.billing})`)
    .option('--logging-url <url>', `default Logging of new apps (default http://127.0.0.1:${STANDARD_PORTS.logging})`)
    .option('--allow-egress <cidrs>', "internal CIDRs tenants' URLs may reach, comma-separated (env SWARM_ALLOW_EGRESS); default none")
    .option('--data <dir>', 'state folder (default .swarm/registry; env SWARM_DATA_DIR)')
    .option(
      '--trust <file>',
      'peer registries trusted for migrations, JSON [{ authority, baseUrl, publicKey }], followed live (env SWARM_TRUST_FILE; PUT /v1/admin/trust)',
    )
    .option(
      '--migration-contest-seconds <n>',
      'a migration without release or Guardian approval waits this long for a veto (default 259200; env SWARM_MIGRATION_CONTEST_SECONDS)',
      integer,
    )
    .option(
      '--migration-dns-grace-seconds <n>',
      "a released app's old zone answers a DNAME this long (default 2592000; env SWARM_MIGRATION_DNS_GRACE_SECONDS)",
      integer,
    )
    .option('--metrics-port <n>', 'also serve /metrics, /healthz, /readyz here (loopback: no token; docs/OPERATIONS.md)', integer)
    .option('--metrics-host <host>', 'address of the metrics port (default 127.0.0.1; any other needs SWARM_METRICS_TOKEN)')
    .option('--log-level <level>', 'log level', process.env.SWARM_LOG_LEVEL || 'info')
    .action(
      action(async (ctx) => {
        const { startStandaloneRegistry } = await import('./standalone.js');
        const { registry, dataDir } = await startStandaloneRegistry(ctx.opts);
        const tokenFile = await writeAdminToken(dataDir, registry.adminToken);
        const summary = {
          url: registry.url,
          authority: registry.authority,
          public_key: registry.publicKey,
          dns_port: registry.dnsPort,
          admin_token_file: tokenFile,
        };
        const dns = registry.dnsPort ? `DNS on port ${registry.dnsPort}` : 'DNS off';
        print(
          ctx.json,
          summary,
          `registry ${registry.authority} on ${registry.url}, ${dns}\nkey ${registry.publicKey}\nadmin token in ${tokenFile}`,
        );
        await untilSignal();
        await registry.close();
        return undefined;
      }),
    );

  program
    .command('service <service_type>')
    .description('run one domain service alone: cms-article, crm-contact or storage-blob')
    .option('--port <n>', 'HTTP port (default: its standard port)', integer)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--public-url <url>', 'the URL peers use to reach it')
    .option('--database-url <url>', 'postgres://… shared by replicas; default SQLite under --data (env SWARM_DATABASE_URL)')
    .option('--redis-url <url>', 'redis://… for nonces shared by replicas (env SWARM_REDIS_URL)')
    .option('--trust <file>', 'JSON [{ authority, baseUrl, publicKey }] of trusted registries (default: the --registry one)')
    .option('--registry-key <key>', 'the registry key (ed25519:…) to accept when it differs from the one pinned at the first start')
    .option('--insecure', 'trust a registry over plain http although it is not on this machine')
    .option('--allow-egress <cidrs>', "internal CIDRs tenants' URLs may reach, comma-separated (env SWARM_ALLOW_EGRESS); default none")
    .option('--admin-token-file <file>', "registry admin token, to put the service's offer in the catalog (env SWARM_ADMIN_TOKEN)")
    .option('--provider-key <file>', 'provider key, PKCS#8 PEM, shared by replicas (default: <data>/provider-key.pem, created once)')
    .option('--data <dir>', 'state folder (default .swarm/<service_type>)')
    .option('--metrics-port <n>', 'also serve /metrics, /healthz, /readyz here (loopback: no token; docs/OPERATIONS.md)', integer)
    .option('--metrics-host <host>', 'address of the metrics port (default 127.0.0.1; any other needs SWARM_METRICS_TOKEN)')
    .option('--log-level <level>', 'log level', process.env.SWARM_LOG_LEVEL || 'info')
    .action(
      action(async (ctx, serviceType: string) => {
        const { startStandaloneService } = await import('./standalone.js');
        const service = await startStandaloneService(serviceType, ctx.opts, ctx.client.registry);
        print(
          ctx.json,
          { service_type: serviceType, url: service.url, offer: service.offer },
          `${serviceType} on ${service.url} (${service.offer})`,
        );
        await untilSignal();
        await service.close();
        return undefined;
      }),
    );

  const backbone = program
    .command('backbone')
    .description('run the backbone alone: auth provider, billing and logging (or `backbone update` an app)')
    .option('--port <n>', 'auth provider port; billing and logging take the next two', integer, STANDARD_PORTS.auth)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--database-url <url>', 'postgres://… shared by replicas; default SQLite under --data (env SWARM_DATABASE_URL)')
    .option('--redis-url <url>', 'redis://… for login and sign-up limits shared by replicas (env SWARM_REDIS_URL)')
    .option('--trust <file>', 'JSON [{ authority, baseUrl, publicKey }] of trusted registries (default: the --registry one)')
    .option('--registry-key <key>', 'the registry key (ed25519:…) to accept when it differs from the one pinned at the first start')
    .option('--insecure', 'trust a registry over plain http although it is not on this machine')
    .option('--allow-egress <cidrs>', "internal CIDRs tenants' URLs may reach, comma-separated (env SWARM_ALLOW_EGRESS); default none")
    .option('--public-url <url>', "the auth provider's URL for peers")
    .option('--admin-token-file <file>', "registry admin token, to put the auth provider's offer in the catalog (env SWARM_ADMIN_TOKEN)")
    .option('--provider-key <file>', 'auth provider key, PKCS#8 PEM, shared by replicas (default: <data>/auth-provider-key.pem)')
    .option('--data <dir>', 'state folder (auth.db, billing.db, logging.db, the provider key)', join('.swarm', 'backbone'))
    .option('--metrics-port <n>', 'also serve /metrics, /healthz, /readyz here (loopback: no token; docs/OPERATIONS.md)', integer)
    .option('--metrics-host <host>', 'address of the metrics port (default 127.0.0.1; any other needs SWARM_METRICS_TOKEN)')
    .option('--log-level <level>', 'log level', process.env.SWARM_LOG_LEVEL || 'info')
    .action(
      action(async (ctx) => {
        const { startStandaloneBackbone } = await import('./standalone.js');
        const parts = await startStandaloneBackbone(ctx.opts, ctx.client.registry);
        print(ctx.json, parts.urls, table(['part', 'listens on'], Object.entries(parts.urls)));
        await untilSignal();
        await parts.close();
        return undefined;
      }),
    );
  return backbone;
}

function print(json: boolean, machine: unknown, human: string): void {
  process.stdout.write(json ? `${JSON.stringify(machine, null, 2)}\n` : `${human}\n`);
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
