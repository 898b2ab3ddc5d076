/**
 * The checkpointer (src/storage/checkpointer.ts) on real files in a temporary directory:
 * what it saves, one save at a time, and when it removes the control file. And the state
 * it starts from (newControlState).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Checkpointer, type CheckpointerOptions } from '../src/storage/checkpointer.js';
import { CONTROL_VERSION, newControlState, readControl, type ControlRead, type ControlState } from '../src/storage/control-file.js';
import type { ByteRange } from '../src/primitives/ranges.js';
import { list, tempDir, waitFor, type AfterContext } from './helpers/tmp.js';

const state = (): ControlState => ({ version: CONTROL_VERSION, url: 'http://a/f', finalUrl: 'http://a/f', size: 1000, etag: '"e"', written: [] });

/** A checkpointer on `out.part` in a fresh directory; `written` answers what the pool would. */
async function setUp(
  t: AfterContext,
  over: Partial<CheckpointerOptions> = {},
): Promise<{ checkpointer: Checkpointer; dir: string; path: string; errors: Error[] }> {
  const dir = await tempDir(t);
  const file = await open(join(dir, 'out.part'), 'w+');
  t.after(() => file.close());
  const path = join(dir, 'out.part.json');
  const errors: Error[] = [];
  const checkpointer = new Checkpointer({
    file,
    sync: true,
    path,
    state: state(),
    written: () => [{ start: 0, end: 100 }],
    interval: 60_000,
    exists: true,
    onError: (err) => errors.push(err),
    ...over,
  });
  return { checkpointer, dir, path, errors };
}

const claims = (read: ControlRead): Array<[number, number]> | undefined => (read.kind === 'ok' ? read.state.written : undefined);

describe('Checkpointer', () => {
  it('saves the state with the written ranges as they are when the save starts', async (t) => {
    const { checkpointer, path } = await setUp(t);
    await checkpointer.save();
    const read = await readControl(path);
    assert.equal(read.kind, 'ok');
    assert.deepEqual(claims(read), [[0, 100]]);
    assert.equal(read.kind === 'ok' ? read.state.etag : undefined, '"e"');
  });

  it('syncs the .part data after reading the written ranges and before saving them; with sync false (--no-fsync) never', async (t) => {
    for (const sync of [true, false]) {
      const calls: string[] = [];
      const file = { datasync: async () => void calls.push('datasync') } as unknown as FileHandle;
      const { checkpointer, path } = await setUp(t, { file, sync, written: () => (calls.push('written'), [{ start: 0, end: 100 }]) });
      await checkpointer.save();
      assert.deepEqual(calls, sync ? ['written', 'datasync'] : ['written']);
      assert.deepEqual(claims(await readControl(path)), [[0, 100]], 'the state is saved either way');
    }
  });

  it('saves nothing without a state, or before anything writes', async (t) => {
    let asked = 0;
    const none = await setUp(t, { state: undefined, written: () => (asked++, []) });
    await none.checkpointer.save();
    assert.equal(asked, 0, 'no state: the written ranges are not even read');
    const idle = await setUp(t, { written: () => undefined });
    await idle.checkpointer.save();
    assert.deepEqual(await list(none.dir), ['out.part']);
    assert.deepEqual(await list(idle.dir), ['out.part']);
  });

  it('runs one save at a time: calls meanwhile make one more save, of the latest ranges', async (t) => {
    let end = 0;
    const snapshots: ByteRange[][] = [];
    const { checkpointer, path } = await setUp(t, {
      written: () => {
        end += 100;
        const snapshot = [{ start: 0, end }];
        snapshots.push(snapshot);
        return snapshot;
      },
    });
    const saves = [checkpointer.save(), checkpointer.save(), checkpointer.save()];
    await Promise.all(saves);
    assert.equal(snapshots.length, 2, 'the first save, then one more for the two calls made meanwhile');
    assert.deepEqual(claims(await readControl(path)), [[0, 200]]);
    await checkpointer.flush();
    assert.equal(snapshots.length, 2, 'flush makes no save of its own');
  });

  it('the next sync does not wait for the control file to be written (each wait is a turn of a busy event loop)', async (t) => {
    let end = 0;
    const seen: boolean[] = [];
    let path = '';
    const file = { datasync: async () => void seen.push(existsSync(path)) } as unknown as FileHandle;
    const set = await setUp(t, { file, written: () => [{ start: 0, end: (end += 100) }] });
    path = set.path;
    const first = set.checkpointer.save();
    const second = set.checkpointer.save();
    await Promise.all([first, second]);
    assert.deepEqual(seen, [false, false], 'the second sync ran while the first state was being written');
    assert.deepEqual(claims(await readControl(path)), [[0, 200]], 'the newest state is the one left');
  });

  it('abandon() during a save leaves no control file', async (t) => {
    const { checkpointer, dir } = await setUp(t);
    const saving = checkpointer.save();
    await checkpointer.abandon();
    await saving;
    assert.deepEqual(await list(dir), ['out.part']);
  });

  it('reports a failed save and goes on', async (t) => {
    const { checkpointer, errors } = await setUp(t, { path: '/nonexistent-dir/out.part.json' });
    await checkpointer.save();
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /ENOENT/);
  });

  it('saves every interval from start() until stop()', async (t) => {
    let reads = 0;
    const { checkpointer, path } = await setUp(t, { interval: 5, written: () => (reads++, [{ start: 0, end: 10 }]) });
    checkpointer.start();
    await waitFor('three periodic saves', () => reads >= 3);
    await checkpointer.stop();
    const stopped = reads;
    // Six intervals without a save: a timer left running would have saved meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(reads, stopped, 'no save after stop()');
    assert.deepEqual(claims(await readControl(path)), [[0, 10]]);
  });

  it('abandon() removes the control file and saves nothing more', async (t) => {
    const { checkpointer, dir } = await setUp(t);
    await checkpointer.save();
    await checkpointer.abandon();
    await checkpointer.save();
    assert.deepEqual(await list(dir), ['out.part']);
  });

  it('finish() removes the control file it saved, or one it did not know to be absent', async (t) => {
    const saved = await setUp(t, { exists: false });
    await saved.checkpointer.save();
    await saved.checkpointer.finish();
    assert.deepEqual(await list(saved.dir), ['out.part']);
    const left = await setUp(t, { exists: true });
    await writeFile(left.path, '{}');
    await left.checkpointer.finish();
    assert.deepEqual(await list(left.dir), ['out.part']);
  });

  it('finish() spends no call on a control file known to be absent', async (t) => {
    // A file the checkpointer was told is not there stays: proof that nothing was removed.
    const { checkpointer, path, dir } = await setUp(t, { exists: false });
    await writeFile(path, '{}');
    await checkpointer.finish();
    assert.deepEqual(await list(dir), ['out.part', 'out.part.json']);
  });
});

describe('newControlState', () => {
  const file = { url: 'http://a/f', finalUrl: 'http://b/f', size: 1000 };

  it('claims nothing written, and keeps the validators and the checksum asked for', () => {
    const made = newControlState({ ...file, etag: '"e"', lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT' }, { algorithm: 'sha256', hex: 'ab' });
    assert.equal(
      JSON.stringify(made),
      '{"version":1,"url":"http://a/f","finalUrl":"http://b/f","size":1000,"written":[],"etag":"\\"e\\"","lastModified":"Mon, 01 Jan 2024 00:00:00 GMT","checksum":"sha256=ab"}',
    );
  });

  it('leaves out what the server and the user did not give', () => {
    assert.deepEqual(newControlState(file), { version: CONTROL_VERSION, ...file, written: [] });
    assert.deepEqual(Object.keys(newControlState({ ...file, etag: '' })), ['version', 'url', 'finalUrl', 'size', 'written']);
  });
});
