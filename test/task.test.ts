/**
 * startDownload(): the events of a download as an async iterable, next to its result.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HttpError, startDownload, type DownloadEvent } from '../src/index.js';
import { sha256File } from './helpers/content.js';
import { serve } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const T = { timeout: 30_000 };

describe('startDownload', () => {
  it('streams every event in order, ending after done, and resolves with the result', T, async (t) => {
    const server = await serve(t, { '/f.bin': { size: 6 * 1024 * 1024 + 1, throttle: 16 * 1024 * 1024 } });
    const out = join(await tempDir(t), 'f.bin');
    const seen: DownloadEvent[] = [];
    const task = startDownload(server.url('/f.bin'), { output: out, connections: 4, progressInterval: 50, onEvent: (e) => seen.push(e) });
    const streamed: DownloadEvent[] = [];
    for await (const event of task.events) streamed.push(event);
    const result = await task.result;
    assert.equal(await sha256File(out), server.sha256('/f.bin'));
    assert.equal(result.size, 6 * 1024 * 1024 + 1);
    // The stream carries exactly what the callback got, in the same order.
    assert.deepEqual(streamed, seen);
    const types = streamed.map((e) => e.type).filter((type) => type !== 'progress');
    assert.deepEqual(types, ['probe', 'start', 'done']);
    assert.ok(streamed.some((e) => e.type === 'progress'), 'progress events in between');
    assert.equal(streamed.at(-1)?.type, 'done');
  });

  it('ends the stream when the download fails; the failure comes from result', T, async (t) => {
    const server = await serve(t, {});
    const task = startDownload(server.url('/missing.bin'), { dir: await tempDir(t), retries: 0 });
    const streamed: DownloadEvent[] = [];
    for await (const event of task.events) streamed.push(event);
    assert.deepEqual(streamed, []);
    await assert.rejects(task.result, (err: unknown) => err instanceof HttpError && err.status === 404);
  });
});
