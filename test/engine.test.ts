/**
 * The engine's decisions, one describe each: pure functions, and the reading of what an
 * earlier run left (files in a temporary directory). No server.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { CONTROL_VERSION, writeControl, type ControlState } from '../src/storage/control-file.js';
import { resolveTarget, type Target } from '../src/storage/target.js';
import { controlMismatch, keptRanges, readLeftovers, takeLeftovers, type ProbedFile } from '../src/engine/resume.js';
import type { ByteRange } from '../src/primitives/ranges.js';
import { tempDir, type AfterContext } from './helpers/tmp.js';
import { HttpError, NetworkError, RemoteChangedError } from '../src/primitives/errors.js';
import { MAX_RESTARTS, restartAction, type RestartContext } from '../src/engine/restart.js';
import { findSources, mirrorProblem, sourceOf } from '../src/engine/sources.js';
import { Meter } from '../src/engine/meter.js';
import { SlotTable } from '../src/engine/slots.js';
import type { ProbeResult } from '../src/http/probe.js';

const ORIGINAL = 'https://example.com/file';
const range = (start: number, end: number): ByteRange => ({ start, end });
const SIGNED = 'https://cdn.example.com/file?sig=1';

describe('SlotTable', () => {
  it('the file\'s flags live after the slots: shared by every view of the buffer, touching no slot', () => {
    const table = new SlotTable(3);
    const other = new SlotTable(table.buffer); // as a worker thread sees it
    assert.equal(other.count, 3);
    table.assign(2, 10, 20);
    assert.equal(other.noIfRange(), false);
    other.setNoIfRange();
    assert.equal(table.noIfRange(), true);
    assert.deepEqual([table.start(2), table.end(2), table.position(2)], [10, 20, 10]);
  });
});

describe('restartAction', () => {
  const context = (over: Partial<RestartContext> = {}): RestartContext => ({
    url: ORIGINAL,
    reprobedWithoutProgress: false,
    restarts: 0,
    restart: true,
    ...over,
  });

  it('probes the original URL again when the final URL answers 403, 410 or a redirect', () => {
    for (const status of [301, 302, 303, 307, 308, 403, 410]) {
      assert.equal(restartAction(new HttpError(status, SIGNED), context()), 'reprobe', `HTTP ${status}`);
    }
  });

  it('does not probe again for other statuses', () => {
    for (const status of [400, 401, 404, 416, 500, 503]) {
      assert.equal(restartAction(new HttpError(status, SIGNED), context()), 'fail', `HTTP ${status}`);
    }
  });

  it('probes again as long as the last fresh URL made progress; not when it failed at once', () => {
    assert.equal(restartAction(new HttpError(403, SIGNED), context({ reprobedWithoutProgress: false })), 'reprobe');
    assert.equal(restartAction(new HttpError(403, SIGNED), context({ reprobedWithoutProgress: true })), 'fail');
  });

  it('does not start over for the same change twice (a server that contradicts itself)', () => {
    const lie = 'the remote file changed size from 100 to 200 bytes';
    assert.equal(restartAction(new RemoteChangedError(lie), context({ restarts: 1, lastChange: lie })), 'fail');
    assert.equal(restartAction(new RemoteChangedError('the remote file changed: ETag "a" → "b"'), context({ restarts: 1, lastChange: lie })), 'start-over');
  });

  it('does not probe again when the failing URL is the original one', () => {
    assert.equal(restartAction(new HttpError(403, ORIGINAL), context()), 'fail');
  });

  it('probes again whatever --restart says and however many restarts were made', () => {
    assert.equal(restartAction(new HttpError(410, SIGNED), context({ restart: false, restarts: MAX_RESTARTS })), 'reprobe');
  });

  it('starts over when the remote file changed and --restart allows it', () => {
    assert.equal(restartAction(new RemoteChangedError('changed'), context()), 'start-over');
    assert.equal(restartAction(new RemoteChangedError('changed'), context({ restarts: MAX_RESTARTS - 1 })), 'start-over');
  });

  it('fails on a changed file without --restart, or after MAX_RESTARTS restarts', () => {
    assert.equal(restartAction(new RemoteChangedError('changed'), context({ restart: false })), 'fail');
    assert.equal(restartAction(new RemoteChangedError('changed'), context({ restarts: MAX_RESTARTS })), 'fail');
  });

  it('fails on any other error', () => {
    assert.equal(restartAction(new NetworkError('reset'), context()), 'fail');
    assert.equal(restartAction(new Error('bug'), context()), 'fail');
    assert.equal(restartAction('not an error', context()), 'fail');
  });
});

describe('sources', () => {
  const probed = (over: Partial<ProbeResult> = {}): ProbeResult => ({
    url: ORIGINAL,
    finalUrl: SIGNED,
    size: 1000,
    acceptsRanges: true,
    etag: '"a"',
    lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT',
    method: 'HEAD',
    ...over,
  });

  it('sourceOf takes the final URL and the validators', () => {
    assert.deepEqual(sourceOf(probed()), { url: SIGNED, etag: '"a"', lastModified: 'Mon, 01 Jan 2024 00:00:00 GMT' });
    assert.deepEqual(sourceOf(probed({ etag: undefined, lastModified: undefined })), { url: SIGNED });
  });

  it('a mirror serving the same size, ranges and ETag is kept, whatever its Last-Modified', () => {
    assert.equal(mirrorProblem(probed(), probed({ lastModified: 'Tue, 02 Jan 2024 00:00:00 GMT' })), undefined);
  });

  it('an ETag missing on either side contradicts nothing', () => {
    assert.equal(mirrorProblem(probed(), probed({ etag: undefined })), undefined);
    assert.equal(mirrorProblem(probed({ etag: undefined }), probed()), undefined);
  });

  it('a mirror with another size, no ranges or another ETag is dropped, saying why', () => {
    assert.equal(mirrorProblem(probed(), probed({ size: 999 })), 'serves 999 bytes, not 1000');
    assert.equal(mirrorProblem(probed(), probed({ size: undefined })), 'serves an unknown number of bytes, not 1000');
    assert.equal(mirrorProblem(probed(), probed({ acceptsRanges: false })), 'does not support ranges');
    assert.equal(mirrorProblem(probed(), probed({ etag: '"b"' })), 'has ETag "b", not "a"');
  });

  it('findSources keeps the URL first, then the good mirrors in order, and warns for the others', async () => {
    const mirrors = [new URL('https://m1.example/f'), new URL('https://m2.example/f'), new URL('https://m3.example/f')];
    const answers = new Map<string, ProbeResult | Error>([
      [mirrors[0]!.href, probed({ finalUrl: mirrors[0]!.href, etag: '"b"' })],
      [mirrors[1]!.href, new Error('connection refused')],
      [mirrors[2]!.href, probed({ finalUrl: mirrors[2]!.href })],
    ]);
    const warnings: string[] = [];
    const sources = await findSources(
      probed(),
      mirrors,
      async (url) => {
        const answer = answers.get(url.href)!;
        if (answer instanceof Error) throw answer;
        return answer;
      },
      (m) => warnings.push(m),
    );
    assert.deepEqual(
      sources.map((s) => s.url),
      [SIGNED, mirrors[2]!.href],
    );
    assert.deepEqual(warnings, [
      'mirror https://m1.example/f dropped: has ETag "b", not "a"',
      'mirror https://m2.example/f dropped: connection refused',
    ]);
  });
});

describe('resume', () => {
  const ETAG = '"v1"';
  const state = (over: Partial<ControlState> = {}): ControlState => ({
    version: CONTROL_VERSION,
    url: ORIGINAL,
    finalUrl: SIGNED,
    size: 1000,
    etag: ETAG,
    written: [
      [0, 100],
      [500, 700],
    ],
    ...over,
  });
  const file = (over: Partial<ProbedFile> = {}): ProbedFile => ({ url: ORIGINAL, size: 1000, etag: ETAG, acceptsRanges: true, ...over });

  it('controlMismatch: none for the same URL and version', () => {
    assert.equal(controlMismatch(state(), file(), 'out.part'), undefined);
  });

  it('controlMismatch: another URL, then another version, each says "cannot resume"', () => {
    assert.equal(
      controlMismatch(state(), file({ url: 'https://example.com/other' }), 'out.part'),
      `cannot resume: out.part was left by a download of ${ORIGINAL}`,
    );
    assert.equal(controlMismatch(state(), file({ etag: '"v2"' }), 'out.part'), 'cannot resume: the remote file changed (ETag "v1" → "v2")');
  });

  it('keptRanges: every claim of a .part that holds them all', () => {
    assert.deepEqual(keptRanges(state(), 1000), { written: [range(0, 100), range(500, 700)], short: false });
  });

  it('keptRanges: a shorter .part keeps what it holds and is short', () => {
    assert.deepEqual(keptRanges(state(), 600), { written: [range(0, 100), range(500, 600)], short: true });
  });

  /** A target in a fresh directory, with the given leftovers written. */
  async function leftAt(t: AfterContext, left: { part?: number; control?: ControlState | string }): Promise<Target> {
    const target = resolveTarget({ fileName: 'out.bin', dir: await tempDir(t) });
    if (left.part !== undefined) await writeFile(target.partPath, Buffer.alloc(left.part));
    if (typeof left.control === 'string') await writeFile(target.controlPath, left.control);
    else if (left.control) await writeControl(target.controlPath, left.control);
    return target;
  }

  it('readLeftovers tells each kind of leftover apart', async (t) => {
    assert.deepEqual(await readLeftovers(await leftAt(t, {}), file()), { kind: 'none' });
    const bare = await leftAt(t, { part: 10 });
    assert.deepEqual(await readLeftovers(bare, file()), {
      kind: 'foreign',
      reason: `${bare.partPath} has no control file, so it is not rangeget's (another program's partial download?)`,
    });
    // The same with the lock of a killed run taken over: that run's, bytes not to be trusted.
    assert.deepEqual(await readLeftovers(bare, file(), true), {
      kind: 'untrusted',
      reason: `${bare.partPath} was left by a rangeget killed before it saved a control file, so its bytes cannot be trusted`,
    });
    const empty = await leftAt(t, { part: 0 });
    assert.deepEqual(await readLeftovers(empty, file()), {
      kind: 'untrusted',
      reason: `${empty.partPath} has no control file, so its bytes cannot be trusted`,
    });
    const corrupt = await readLeftovers(await leftAt(t, { part: 10, control: '{"version":1' }), file());
    assert.equal(corrupt.kind, 'untrusted');
    const changed = await readLeftovers(await leftAt(t, { part: 1000, control: state() }), file({ size: 2000 }));
    assert.equal(changed.kind, 'mismatch');
    assert.deepEqual(await readLeftovers(await leftAt(t, { part: 50, control: state() }), file()), {
      kind: 'kept',
      written: [range(0, 50)],
      short: true,
    });
  });

  it('takeLeftovers keeps trusted bytes, drops untrusted ones with a warning, refuses another version without restart', async (t) => {
    const on = { resume: true, restart: false };
    const warnings: string[] = [];
    const warn = (m: string): void => void warnings.push(m);
    assert.deepEqual(await takeLeftovers(await leftAt(t, {}), file(), on, warn), { written: [], fresh: true });
    assert.deepEqual(await takeLeftovers(await leftAt(t, { part: 1000, control: state() }), file(), on, warn), {
      written: [range(0, 100), range(500, 700)],
      fresh: false,
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(await takeLeftovers(await leftAt(t, { part: 0 }), file(), on, warn), { written: [], fresh: false });
    assert.match(warnings.pop() ?? '', /has no control file, so its bytes cannot be trusted; starting over$/);
    // Bytes no control file vouches for are not rangeget's to overwrite: moved aside, kept whole.
    const foreign = await leftAt(t, { part: 10 });
    await writeFile(`${foreign.partPath}.orig`, 'taken');
    assert.deepEqual(await takeLeftovers(foreign, file(), on, warn), { written: [], fresh: true });
    assert.equal(warnings.pop(), `${foreign.partPath} has no control file, so it is not rangeget's (another program's partial download?): kept as ${foreign.partPath}.orig.1; starting over`);
    assert.deepEqual(await readFile(`${foreign.partPath}.orig.1`), Buffer.alloc(10));
    assert.equal(await readFile(`${foreign.partPath}.orig`, 'utf8'), 'taken');
    assert.equal(await stat(foreign.partPath).catch(() => undefined), undefined);
    const changed = await leftAt(t, { part: 1000, control: state() });
    await assert.rejects(takeLeftovers(changed, file({ etag: '"v2"' }), on, warn), {
      code: 'ECHANGED',
      message: 'cannot resume: the remote file changed (ETag "v1" → "v2"); download with `resume: false` to start over',
      cliMessage: 'cannot resume: the remote file changed (ETag "v1" → "v2"); run with --no-resume to start over',
    });
    assert.deepEqual(await takeLeftovers(changed, file({ etag: '"v2"' }), { resume: true, restart: true }, warn), { written: [], fresh: false });
    assert.equal(warnings.pop(), 'cannot resume: the remote file changed (ETag "v1" → "v2"); starting over');
    assert.equal((await readLeftovers(changed, file())).kind, 'foreign');
  });
});

describe('Meter', () => {
  const STARTED = 10_000;
  /** Speeds reported for readings of `[time after STARTED, bytes written]`. */
  const speeds = (readings: Array<[number, number]>): number[] => {
    const meter = new Meter(STARTED);
    return readings.map(([t, written]) => meter.progress({ now: STARTED + t, written, total: 1000, connections: 2 }).speed);
  };

  it('passes the figures through and counts elapsed time from the start', () => {
    const meter = new Meter(STARTED);
    assert.deepEqual(meter.progress({ now: STARTED + 250, written: 100, total: undefined, connections: 3 }), {
      downloaded: 100,
      total: undefined,
      speed: 0,
      connections: 3,
      elapsed: 250,
    });
  });

  it('gives no speed from one reading, or from two at the same time', () => {
    assert.deepEqual(speeds([[0, 500]]), [0]);
    assert.deepEqual(speeds([[100, 0], [100, 500]]), [0, 0]);
  });

  it('takes the speed from the oldest reading within the last 3 s (3 s ago included)', () => {
    assert.deepEqual(speeds([[0, 0], [1000, 1000], [2000, 3000], [3000, 6000], [5000, 9000]]), [0, 1000, 1500, 2000, 2000]);
  });

  it('keeps the last two readings however far apart', () => {
    assert.deepEqual(speeds([[0, 0], [10_000, 5000], [20_000, 5000]]), [0, 500, 0]);
  });

  it('counts resumed bytes in downloaded, not in the speed', () => {
    assert.deepEqual(speeds([[0, 4000], [1000, 4500]]), [0, 500]);
  });
});
