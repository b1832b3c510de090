import { postgresBackend, sqliteBackend } from './helpers.js';
import { providerHeartbeatCases } from './provider-heartbeat-cases.js';

providerHeartbeatCases(sqliteBackend);
providerHeartbeatCases(postgresBackend);
