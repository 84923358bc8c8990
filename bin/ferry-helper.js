#!/usr/bin/env node
// Thin launcher: the CLI is bundled TypeScript in dist/ (built by `npm install`).
import { main } from '../dist/ferry-helper.mjs';
process.exitCode = await main(process.argv.slice(2));
