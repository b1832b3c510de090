import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Debian's unbound: a validating recursive resolver nobody here wrote (.ci/run installs it). */
export const unboundMissing: string | false =
  spawnSync('unbound', ['-V'], { stdio: 'ignore' }).error === undefined
    ? false
    : 'unbound is not on PATH (Debian: apt-get install unbound)';

export interface UnboundOptions {
  /** Its own folder (config, nothing else written). */
  dir: string;
  port: number;
  /** `trust-anchor:` lines, one DS record each. */
  anchors: string[];
  /** The zones it asks an authoritative server for directly, and that server's port on 127.0.0.1. */
  stubs: Array<{ zone: string; port: number }>;
  /** RFC 0x20 mixed case in questions, to see that answers keep the case asked. */
  capsForId?: boolean;
}

/** A validating unbound on 127.0.0.1:port in the foreground; stop it with dev-env's `stop`. */
export function startUnbound(options: UnboundOptions): { child: ReturnType<typeof spawn> } {
  const config = join(options.dir, 'unbound.conf');
  writeFileSync(
    config,
    [
      'server:',
      '  interface: 127.0.0.1',
      `  port: ${options.port}`,
      '  do-daemonize: no',
      '  chroot: ""',
      '  username: ""',
      `  directory: "${options.dir}"`,
      '  pidfile: ""',
      '  use-syslog: no',
      '  logfile: ""',
      '  verbosity: 0',
      '  num-threads: 1',
      '  do-not-query-localhost: no',
      ...(options.capsForId ? ['  use-caps-for-id: yes'] : []),
      '  module-config: "validator iterator"',
      '  local-zone: "local." nodefault',
      ...options.anchors,
      'remote-control:',
      '  control-enable: no',
      ...options.stubs.flatMap((stub) => ['stub-zone:', `  name: "${stub.zone}"`, `  stub-addr: 127.0.0.1@${stub.port}`]),
      '',
    ].join('\n'),
  );
  return { child: spawn('unbound', ['-d', '-c', config], { stdio: 'ignore' }) };
}
