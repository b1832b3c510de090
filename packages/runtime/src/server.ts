import type { FastifyInstance } from 'fastify';

export interface ListenOptions {
  /** 0 (default) = a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** What peers use to reach the server; default the bound address. */
  publicUrl?: string | undefined;
}

export interface Listening {
  /** `http://<host>:<bound port>`, known only once listening (port 0 picks a free one). */
  localUrl: string;
  /** `publicUrl` without trailing slashes, else `localUrl`: what goes into records and offers. */
  publicUrl: string;
}

export const DEFAULT_HOST = '127.0.0.1';

/** Listens on `host:port` and answers the URLs the server is reached by. */
export async function listenApp(app: FastifyInstance, options: ListenOptions = {}): Promise<Listening> {
  const host = options.host ?? DEFAULT_HOST;
  await app.listen({ port: options.port ?? 0, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const localUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { localUrl, publicUrl: (options.publicUrl ?? localUrl).replace(/\/+$/, '') };
}

type Step = () => unknown;

/**
 * How a server closes, in three phases: `stop` what takes work in (HTTP, DNS, timers: the last
 * registered first), then `flush` what is still buffered to peers, then `release` what the
 * other phases used (replay store, database: the last opened first). Every step runs even when
 * an earlier one failed; the first failure is thrown at the end. Closing twice closes once.
 *
 * @example
 * const shutdown = new Shutdown();
 * return shutdown.start(async () => {
 *   const database = openDatabase(…); shutdown.onRelease(() => database.close());
 *   const app = createHttpApp(…); shutdown.onStop(() => app.close());
 *   const { publicUrl } = await listenApp(app, options);
 *   return { url: publicUrl, close: () => shutdown.close() };
 * });
 */
export class Shutdown {
  readonly #stop: Step[] = [];
  readonly #flush: Step[] = [];
  readonly #release: Step[] = [];
  #closing: Promise<void> | undefined;

  onStop(step: Step): void {
    this.#stop.push(step);
  }

  onFlush(step: Step): void {
    this.#flush.push(step);
  }

  onRelease(step: Step): void {
    this.#release.push(step);
  }

  close(): Promise<void> {
    this.#closing ??= this.#run();
    return this.#closing;
  }

  /** Runs `open`; when it throws, closes what it had registered and throws its error. */
  async start<T>(open: () => Promise<T>): Promise<T> {
    try {
      return await open();
    } catch (error) {
      await this.close().catch(() => {});
      throw error;
    }
  }

  async #run(): Promise<void> {
    const failures: unknown[] = [];
    const steps = [...this.#stop.splice(0).reverse(), ...this.#flush.splice(0), ...this.#release.splice(0).reverse()];
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}
