import { registryCases } from './cases.js';
import { sqliteBackend } from './helpers.js';
import { lifeCases } from './life-cases.js';
import { signedEndpointCases } from './signed-endpoints-cases.js';

registryCases(sqliteBackend());
lifeCases(sqliteBackend());
signedEndpointCases(sqliteBackend());
