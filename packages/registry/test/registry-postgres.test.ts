import { registryCases } from './cases.js';
import { postgresBackend } from './helpers.js';
import { lifeCases } from './life-cases.js';
import { signedEndpointCases } from './signed-endpoints-cases.js';

registryCases(postgresBackend());
lifeCases(postgresBackend());
signedEndpointCases(postgresBackend());
