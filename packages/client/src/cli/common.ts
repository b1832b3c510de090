import { SwarmError } from '@swarm/protocol';
import { type Command, InvalidArgumentError } from 'commander';
import { type ClientOptions, DEFAULT_REGISTRY_URL } from '../http.js';
import { type Output, terminalSafe } from './output.js';

export interface CommandContext {
  /** The command's options together with the global ones (`--registry`, `--json`). */
  opts: Record<string, unknown>;
  client: ClientOptions;
  json: boolean;
}

export function defaultRegistryUrl(): string {
  return process.env.SWARM_REGISTRY || DEFAULT_REGISTRY_URL;
}

/**
 * Wraps a command handler: gathers options, runs it, and prints its output as JSON (`--json`)
 * or as text. Errors travel up to main, which prints them with a hint.
 */
export function action<Args extends string[]>(handler: (ctx: CommandContext, ...args: Args) => Promise<Output | undefined>) {
  return async (...params: unknown[]): Promise<void> => {
    const command = params.at(-1) as Command;
    const opts = command.optsWithGlobals() as Record<string, unknown>;
    const registry = typeof opts.registry === 'string' ? opts.registry : defaultRegistryUrl();
    const ctx: CommandContext = { opts, client: { registry }, json: opts.json === true };
    const output = await handler(ctx, ...(params.slice(0, -2) as Args));
    if (!output) return;
    process.stdout.write(ctx.json ? `${JSON.stringify(output.json, null, 2)}\n` : `${terminalSafe(output.human)}\n`);
  };
}

export function option(ctx: CommandContext, name: string): string {
  const value = ctx.opts[name];
  if (typeof value !== 'string') throw new SwarmError('invalid_request', `--${name} is required`);
  return value;
}

export function optional(ctx: CommandContext, name: string): string | undefined {
  const value = ctx.opts[name];
  return typeof value === 'string' ? value : undefined;
}

export function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`${value} is not a whole number`);
  return parsed;
}
