#!/usr/bin/env node
// Development entry point: Node >= 22.18 runs the TypeScript sources directly (type stripping).
// Packages ship the bundled single executable built by `npm run package` instead.
import { main } from '../src/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
