/** The few I/O helpers the CLI commands share: printing, error lines, reading inputs. */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { HoistError, toHoistError } from '../errors.ts';

export function writeOut(text: string): void {
  process.stdout.write(text);
}

export function writeErr(text: string): void {
  process.stderr.write(text);
}

/**
 * `hoist: CODE: message` and one indented line per details.issues entry (unless the message
 * already spells them all out, as manifest errors do for the agent's one-line reports).
 */
export function formatError(error: HoistError): string {
  const lines = [`hoist: ${error.code}: ${error.message}`];
  const issues = error.details?.issues;
  if (Array.isArray(issues) && !issues.every((issue) => error.message.includes(String(issue)))) {
    for (const issue of issues) lines.push(`  ${String(issue)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Reads a file, or stdin for `-`, stopping after limit + 1 bytes so an oversized input is
 * detected without reading all of it. A missing file is a usage error.
 */
export async function readInput(path: string, what: string, limit = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  const stream: Readable = path === '-' ? process.stdin : createReadStream(path);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      chunks.push(buf);
      size += buf.length;
      if (size > limit) break;
    }
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') {
      throw new HoistError('HOIST_USAGE', `${what} ${path} ${code === 'ENOENT' ? 'does not exist' : 'is a directory'}; check the path`, { cause });
    }
    throw toHoistError(cause, 'HOIST_IO');
  } finally {
    if (path !== '-') stream.destroy();
  }
  return Buffer.concat(chunks);
}
