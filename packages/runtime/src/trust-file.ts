import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { parseTrustList, type TrustedRegistries, type TrustedRegistry } from '@swarm/protocol';

export interface TrustFileWatch {
  /** Reads the file now; answers whether the table took it. */
  reload(): boolean;
  close(): void;
}

export interface TrustFileEvents {
  /** The operator's own rule on top of the file's syntax (for example TLS only); throws to refuse the file. */
  check?(entries: TrustedRegistry[]): void;
  /** The table took the file's entries (authorities listed). */
  onReload?(authorities: string[]): void;
  /** The file could not be read or is not a trust list: the table keeps what it had. */
  onError?(error: Error): void;
}

/**
 * Keeps `table` equal to the trust file an operator edits (SPIFFE's rule: trust is configured,
 * never inferred). The file is read again when it changes (polled every `intervalMs`, which
 * also sees an editor's rename-and-replace) and on SIGHUP; a file that does not parse leaves
 * the table as it was and is reported, so a typo never empties the trust of a running part.
 */
export function watchTrustFile(file: string, table: TrustedRegistries, events: TrustFileEvents = {}, intervalMs = 2000): TrustFileWatch {
  const reload = (): boolean => {
    try {
      const entries = parseTrustList(readFileSync(file, 'utf8'));
      events.check?.(entries);
      table.replace(entries);
      events.onReload?.(entries.map((entry) => entry.authority));
      return true;
    } catch (error) {
      events.onError?.(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  };
  const onChange = () => {
    reload();
  };
  watchFile(file, { interval: intervalMs, persistent: false }, onChange);
  process.on('SIGHUP', onChange);
  return {
    reload,
    close() {
      unwatchFile(file, onChange);
      process.off('SIGHUP', onChange);
    },
  };
}
