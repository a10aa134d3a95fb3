#!/usr/bin/env node
// Development entry point: Node >= 22.18 runs the TypeScript sources directly (type stripping).
// Packages ship the bundled single executable built by `npm run package` instead.
//
// Plain JavaScript that any Node parses, and the sources are imported only after the version
// check: an older Node would otherwise fail on the first .ts import with ERR_UNKNOWN_FILE_EXTENSION.
const version = process.versions.node;
const [major = 0, minor = 0] = version.split('.').map(Number);
const stripsTypes = major > 23 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18);
const features = /** @type {{ typescript?: unknown }} */ (process.features);
if (!stripsTypes || features.typescript === false) {
  const why = stripsTypes ? 'type stripping is turned off (--no-experimental-strip-types)' : `this is Node.js ${version}`;
  process.stderr.write(
    `hoist: HOIST_USAGE: ${why}; hoist run from its sources needs Node.js 22.18 or newer (24 LTS recommended), which runs TypeScript directly. ` +
      'Install Node.js 24, or use the packaged hoist (.deb/.rpm), which carries its own runtime.\n',
  );
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
