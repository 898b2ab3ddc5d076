/**
 * The stream window (engine/window.ts): piece sizes and the pieces handed out as the window
 * moves, pure; and the range writer's ring, which puts byte x of the file at x mod ring.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RangeWriter } from '../src/engine/range-writer.js';
import { SlotTable } from '../src/engine/slots.js';
import { streamPieceSize, WindowFeed } from '../src/engine/window.js';
import type { ByteRange } from '../src/primitives/ranges.js';
import { tempDir } from './helpers/tmp.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('streamPieceSize', () => {
  it('gives every connection four pieces of one window', () => {
    assert.equal(streamPieceSize(64 * MiB, 16), MiB);
    assert.equal(streamPieceSize(64 * MiB, 8), 2 * MiB);
  });

  it('is not below 64 KiB, nor above the window', () => {
    assert.equal(streamPieceSize(MiB, 16), 64 * KiB);
    assert.equal(streamPieceSize(16 * KiB, 4), 16 * KiB);
  });
});

describe('WindowFeed', () => {
  it('hands out whole pieces within the window only, then more as it moves', () => {
    const feed = new WindowFeed(10 * MiB, MiB, 3 * MiB + 5);
    const queue: ByteRange[] = [];
    feed.fill(queue);
    assert.deepEqual(queue, [
      { start: 0, end: MiB },
      { start: MiB, end: 2 * MiB },
      { start: 2 * MiB, end: 3 * MiB },
    ]);
    feed.advance(4 * MiB - 1); // not a whole piece more
    feed.fill(queue);
    assert.equal(queue.length, 3);
    feed.advance(4 * MiB);
    feed.fill(queue);
    assert.deepEqual(queue.at(-1), { start: 3 * MiB, end: 4 * MiB });
    assert.equal(feed.exhausted, false);
  });

  it('ends with the file: the last piece is shorter, and then it is exhausted', () => {
    const feed = new WindowFeed(2 * MiB + 7, MiB, 4 * MiB);
    const queue: ByteRange[] = [];
    feed.fill(queue);
    assert.deepEqual(queue.at(-1), { start: 2 * MiB, end: 2 * MiB + 7 });
    assert.equal(queue.length, 3);
    assert.equal(feed.exhausted, true);
  });

  it('never moves back', () => {
    const feed = new WindowFeed(10 * MiB, MiB, 2 * MiB);
    feed.advance(MiB);
    const queue: ByteRange[] = [];
    feed.fill(queue);
    assert.equal(queue.length, 2);
  });
});

describe('RangeWriter in a ring', () => {
  it('writes byte x at x mod ring, splitting a write that crosses the end', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'ring');
    const fd = openSync(path, 'w+');
    t.after(() => closeSync(fd));
    const table = new SlotTable(1);
    table.assign(0, 6, 14);
    const writer = new RangeWriter(fd, path, table, 0, 8);
    const bytes = Buffer.from('abcdefgh');
    assert.equal(writer.writeFrom(bytes, 14), true);
    assert.equal(table.position(0), 14);
    // Bytes 6..7 at 6..7, bytes 8..13 at 0..5.
    assert.equal(readFileSync(path).toString('latin1'), 'cdefghab');
  });
});
