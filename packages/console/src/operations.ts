import { randomUUID } from 'node:crypto';
import { isErrorCode, SwarmError } from '@swarm/protocol';

export interface Operation {
  id: string;
  app_id: string;
  kind: 'provision' | 'decommission' | 'backbone_update';
  /** What it acts on: a service type or a service id. */
  target: string;
  status: 'running' | 'done' | 'failed';
  progress: string;
  started_at: number;
  finished_at: number | null;
  result: unknown;
  error: { code: string; message: string } | null;
}

/** Finished operations kept for the view; older ones are dropped first. */
const KEPT = 100;
/** Signing actions in flight at once: each one is an explicit click, so more is a runaway page. */
const RUNNING = 8;

/**
 * The console's signing actions while and after they run: each gets an id at once (the page
 * follows it over server-sent events), its progress, then its result or its SPEC error code.
 */
export class Operations {
  readonly #all: Operation[] = [];
  constructor(private readonly changed: (operation: Operation) => void) {}

  list(appId?: string): Operation[] {
    return this.#all.filter((operation) => appId === undefined || operation.app_id === appId);
  }

  start(appId: string, kind: Operation['kind'], target: string, run: (progress: (text: string) => void) => Promise<unknown>): Operation {
    if (this.#all.filter((operation) => operation.status === 'running').length >= RUNNING) {
      throw new SwarmError('conflict', `${RUNNING} actions are running already; wait for one to finish`);
    }
    const operation: Operation = {
      id: randomUUID(),
      app_id: appId,
      kind,
      target,
      status: 'running',
      progress: 'signing',
      started_at: Date.now(),
      finished_at: null,
      result: null,
      error: null,
    };
    this.#all.push(operation);
    while (this.#all.length > KEPT) {
      const index = this.#all.findIndex((old) => old.status !== 'running');
      if (index < 0) break;
      this.#all.splice(index, 1);
    }
    this.changed(operation);
    run((text) => {
      operation.progress = text;
      this.changed(operation);
    }).then(
      (result) => this.#finish(operation, { status: 'done', result }),
      (error: unknown) => this.#finish(operation, { status: 'failed', error: errorOf(error) }),
    );
    return operation;
  }

  #finish(operation: Operation, outcome: Partial<Operation>): void {
    Object.assign(operation, outcome, { finished_at: Date.now(), progress: outcome.status ?? 'done' });
    this.changed(operation);
  }
}

function errorOf(error: unknown): { code: string; message: string } {
  if (error instanceof SwarmError) return { code: error.code, message: error.message };
  const code = (error as { code?: unknown })?.code;
  return { code: isErrorCode(code) ? code : 'internal_error', message: error instanceof Error ? error.message : String(error) };
}
