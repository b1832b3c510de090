export * from './bearer.js';
export * from './database.js';
export * from './http-app.js';
export * from './http-client.js';
export * from './owner-signed.js';
export * from './prepared.js';
export * from './registry-client.js';
export * from './replay-stores.js';
