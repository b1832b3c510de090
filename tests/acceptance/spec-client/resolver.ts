import { Resolver } from 'node:dns/promises';

/** What an independent stub resolver made of an answer; `status` as dig names the rcode. */
export interface ResolverAnswer<T> {
  status: 'NOERROR' | 'NXDOMAIN' | 'REFUSED' | 'SERVFAIL' | string;
  records: T[];
}

/**
 * Node's own stub resolver (c-ares, shipped with Node) pointed at the registry's Service DNS: a
 * DNS client nobody here wrote, that follows truncation to TCP by itself, on every machine.
 */
export function serviceDns(port: number) {
  const resolver = new Resolver({ timeout: 5000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const ask = async <T>(query: () => Promise<T[]>): Promise<ResolverAnswer<T>> => {
    try {
      return { status: 'NOERROR', records: await query() };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ENOTFOUND') return { status: 'NXDOMAIN', records: [] };
      if (code === 'ENODATA') return { status: 'NOERROR', records: [] };
      if (code === 'EREFUSED') return { status: 'REFUSED', records: [] };
      if (code === 'ESERVFAIL') return { status: 'SERVFAIL', records: [] };
      throw error;
    }
  };
  return {
    srv: (name: string) => ask(() => resolver.resolveSrv(name)),
    /** Each TXT record's strings joined, as one line. */
    txt: (name: string) => ask(async () => (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''))),
    ptr: (name: string) => ask(() => resolver.resolvePtr(name)),
    a: (name: string) => ask(() => resolver.resolve4(name)),
  };
}
