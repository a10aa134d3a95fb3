/** `hoist pack DIR --out FILE [--zstd]`: a reproducible tarball of a build directory. */
import type { Command } from 'commander';
import { withInterrupt } from '../interrupt.ts';
import { addJsonOption, type OutputOptions } from '../json-option.ts';
import { writeErr, writeOut } from '../output.ts';

interface PackOptions extends OutputOptions {
  out: string;
  zstd?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('pack')
    .description('Pack a directory into a reproducible tarball (sorted entries, fixed mtime, uid/gid 0): the same tree always gives the same sha256.')
    .argument('<dir>', 'directory to pack (its contents become the release root)')
    .requiredOption('-o, --out <file>', 'tarball to write')
    .option('--zstd', 'compress with zstd (tar+zstd) instead of gzip (tar+gzip)');
  addJsonOption(cmd)
    .addHelpText(
      'after',
      `
Output (stdout, one "name value" per line):
  sha256 <64 hex>
  size <bytes>
  format tar+gzip | tar+zstd
  file <FILE>

Examples:
  $ hoist pack dist --out web.tar.gz
  $ hoist pack build --out api.tar.zst --zstd`,
    )
    .action(async (dir: string, options: PackOptions) => {
      // Loaded on use: the other commands need not pay for tar and compression.
      const { packDirectory } = await import('../../pack/pack.ts');
      const result = await withInterrupt((signal) => packDirectory(dir, options.out, { zstd: options.zstd === true, signal }));
      if (options.json === true) writeOut(`${JSON.stringify({ sha256: result.sha256, size: result.size, format: result.format, file: options.out, entries: result.entries }, null, 2)}\n`);
      else writeOut(`sha256 ${result.sha256}\nsize ${result.size}\nformat ${result.format}\nfile ${options.out}\n`);
      writeErr(`packed ${result.entries} entries from ${dir}\n`);
    });
}
