#!/usr/bin/env node
// The `swarm` CLI: TypeScript runs through tsx, there is no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
