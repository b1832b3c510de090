import type {
  AppRecord,
  AuditEntry,
  BroadcastPage,
  BroadcastState,
  CatalogEntry,
  ConfigEpochAnswer,
  DecommissionAnswer,
  LogEntry,
  LogsAnswer,
  NamespaceRecord,
  ProvisionAnswer,
  ServiceRecord,
  TerminationReceipt,
  UsageSummary,
} from '@swarm/protocol';

/**
 * Everything the console reads and signs, as the CLI's client library does it. The CLI builds
 * one around the key it holds (`consoleSource` in @swarm/client), so this package never sees a
 * key and depends on no client code: the browser asks, this process signs.
 */
export interface ConsoleSource {
  /** The Master (or delegated) key's public half, shown as a fingerprint. */
  publicKey: string;
  namespace(name: string): Promise<NamespaceRecord>;
  app(appId: string): Promise<AppRecord>;
  services(appId: string): Promise<ServiceRecord[]>;
  catalog(): Promise<CatalogEntry[]>;
  /** The registry's broadcasts to the app's instances in one state, a page at most `limit` long. */
  broadcasts(appId: string, state: BroadcastState, limit: number): Promise<BroadcastPage>;
  audit(appId: string): Promise<AuditEntry[]>;
  usage(appId: string, serviceId?: string): Promise<UsageSummary>;
  logs(appId: string, filter: { serviceId?: string; level?: LogEntry['level']; since?: number }): Promise<LogsAnswer>;
  provision(input: ProvisionOrder, onProgress: (answer: ProvisionAnswer) => void): Promise<ProvisionAnswer>;
  decommission(input: { appId: string; serviceId: string; retain: boolean }): Promise<{
    receipt: TerminationReceipt | null;
    revocation: DecommissionAnswer;
  }>;
  backboneUpdate(input: { appId: string; billingUrl?: string; loggingUrl?: string }): Promise<ConfigEpochAnswer>;
}

export interface ProvisionOrder {
  appId: string;
  serviceType: string;
  provider: string;
  tier: string;
  region: string;
  storageGb?: number;
}
