import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, truncateSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { isHoistError } from '../../src/errors.ts';
import { compareUtf8, listPackEntries } from '../../src/pack/entries.ts';
import { writeTar } from '../../src/pack/tar-writer.ts';
import type { ChunkSink } from '../../src/pack/tar-writer.ts';
import { FIXED_TREE_ENTRIES, FIXED_TREE_TAR_SHA256, makeFixedTree } from './fixture.ts';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-tar-writer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A sink that copies what it gets and gives each buffer back on the next turn of the loop. */
function collecting(): ChunkSink & { bytes(): Buffer; writes: number } {
  const parts: Buffer[] = [];
  return {
    writes: 0,
    write(chunk, done) {
      this.writes += 1;
      parts.push(Buffer.from(chunk));
      setImmediate(done);
    },
    bytes: () => Buffer.concat(parts),
  };
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('writeTar', () => {
  it('writes the same tar whatever the buffer size and count', async (t) => {
    const root = await tempDir(t);
    const src = await makeFixedTree(root);
    for (const [chunkBytes, chunks] of [
      [512, 2],
      [4096, 2],
      [64 * 1024, 5],
      [undefined, undefined],
    ] as const) {
      const sink = collecting();
      const result = await writeTar(src, sink, { mtime: new Date(0), chunkBytes, chunks });
      const bytes = sink.bytes();
      assert.equal(result.entries, FIXED_TREE_ENTRIES);
      assert.equal(result.bytes, bytes.length);
      assert.equal(sha256(bytes), FIXED_TREE_TAR_SHA256, `chunkBytes ${chunkBytes}`);
      if (chunkBytes !== undefined) assert.equal(sink.writes, Math.ceil(bytes.length / chunkBytes));
    }
  });

  it('stops reading while every buffer is with the sink: memory is the pool, not the tree', async (t) => {
    const root = await tempDir(t);
    const src = await makeFixedTree(root);
    const held: Array<() => void> = [];
    const sink: ChunkSink = { write: (_chunk, done) => held.push(() => done()) };
    let finished = false;
    const writing = writeTar(src, sink, { mtime: new Date(0), chunkBytes: 4096, chunks: 3 }).then((r) => {
      finished = true;
      return r;
    });
    for (let i = 0; i < 20; i++) await turn();
    // three buffers: all three handed over, none free, so the writer waits
    assert.equal(held.length, 3);
    assert.equal(finished, false);
    let given = 0;
    while (!finished) {
      held.shift()?.();
      given += 1;
      await turn();
      assert.ok(held.length <= 3, 'never more buffers out than the pool holds');
    }
    const result = await writing;
    assert.equal(given + held.length, Math.ceil(result.bytes / 4096));
  });

  it('fails with the sink when the sink fails', async (t) => {
    const root = await tempDir(t);
    const src = await makeFixedTree(root);
    const sink: ChunkSink = { write: (_chunk, done) => setImmediate(() => done(new Error('disk full'))) };
    await assert.rejects(writeTar(src, sink, { mtime: new Date(0), chunkBytes: 4096 }), /disk full/);
  });

  it('refuses a file that shrinks or grows while it is read', async (t) => {
    const root = await tempDir(t);
    const src = path.join(root, 'src');
    await mkdir(src);
    const file = path.join(src, 'f');
    for (const [change, size] of [
      [() => truncateSync(file, 100), 5000],
      [() => appendFileSync(file, Buffer.alloc(600, 1)), 1000],
    ] as const) {
      await writeFile(file, Buffer.alloc(size, 7));
      let writes = 0;
      // 512-byte buffers: the file is read one block per buffer, and changed after the first
      const sink: ChunkSink = {
        write: (_chunk, done) => {
          writes += 1;
          if (writes === 2) change();
          setImmediate(done);
        },
      };
      await assert.rejects(writeTar(src, sink, { mtime: new Date(0), chunkBytes: 512, chunks: 2 }), (e: unknown) => {
        assert.ok(isHoistError(e, 'HOIST_PACK_FAILED'));
        assert.match(e.message, /^f changed size while it was packed/);
        return true;
      });
    }
  });

  it('honours an aborted signal between entries', async (t) => {
    const root = await tempDir(t);
    const src = await makeFixedTree(root);
    await assert.rejects(writeTar(src, collecting(), { mtime: new Date(0), signal: AbortSignal.abort(new Error('stop')) }), /stop/);
  });

  it('stops waiting for a buffer when aborted: a sink that failed may never give one back', async (t) => {
    const root = await tempDir(t);
    const src = await makeFixedTree(root);
    const controller = new AbortController();
    const sink: ChunkSink = { write: () => undefined };
    const writing = writeTar(src, sink, { mtime: new Date(0), chunkBytes: 4096, chunks: 2, signal: controller.signal });
    for (let i = 0; i < 10; i++) await turn();
    controller.abort(new Error('output failed'));
    await assert.rejects(writing, /output failed/);
  });

  it('refuses a buffer size that is not whole blocks', async (t) => {
    const root = await tempDir(t);
    await assert.rejects(writeTar(root, collecting(), { mtime: new Date(0), chunkBytes: 1000 }), RangeError);
  });
});

describe('archive order', () => {
  it('is the byte order of the names over the whole tree, directories with their /', async (t) => {
    const root = await tempDir(t);
    const src = await makeFixedTree(root);
    const names = listPackEntries(src).map((e) => e.name);
    const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual(names, sorted);
    assert.ok(names.indexOf('lib-a.txt') < names.indexOf('lib/'), '- sorts before /');
    assert.ok(names.indexOf('lib/deep/data.json') < names.indexOf('long-link'));
  });

  it('compares as UTF-8 bytes, also where UTF-16 order differs', () => {
    // U+FF5E (3 UTF-8 bytes, one UTF-16 unit 0xFF5E) against U+1F600 (4 bytes, surrogates 0xD83D...):
    // in UTF-16 the emoji sorts first, in UTF-8 (and code points) it sorts last
    assert.equal(compareUtf8('\u{1F600}', '\uFF5E'), 1);
    assert.equal(compareUtf8('\uFF5E', '\u{1F600}'), -1);
    assert.equal(compareUtf8('a/', 'a-'), 1);
    assert.equal(compareUtf8('é', 'é'), 0);
    assert.equal(compareUtf8('b', 'a'), 1);
  });

  it('sorts non-ASCII siblings by their bytes', async (t) => {
    const root = await tempDir(t);
    for (const name of ['\uFF5E', '\u{1F600}', 'z', 'é']) await writeFile(path.join(root, name), name);
    assert.deepEqual(
      listPackEntries(root).map((e) => e.name),
      ['z', 'é', '\uFF5E', '\u{1F600}'],
    );
  });
});
