#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx so a checkout works right after `npm ci`.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../agent/main.ts');
await main(process.argv.slice(2));
