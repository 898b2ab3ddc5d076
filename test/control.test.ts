/**
 * Unit tests of the control file (src/storage/control-file.ts) and the resume decision
 * (src/engine/resume.ts): what a state may hold, how a damaged
 * file is read, that a save is atomic, how claims are clipped to a shorter `.part`, and
 * when the bytes of an earlier run may be trusted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTROL_VERSION, parseControl, readControl, removeControl, writeControl, writtenSegments, type ControlState } from '../src/storage/control-file.js';
import { resumeProblem, type RemoteIdentity } from '../src/engine/resume.js';
import { tempDir } from './helpers/tmp.js';

const ETAG = '"abc-1000"';
const LAST_MODIFIED = 'Mon, 08 Jul 2024 12:38:08 GMT';

function state(extra: Partial<ControlState> = {}): ControlState {
  return {
    version: CONTROL_VERSION,
    url: 'http://127.0.0.1:8080/file.bin',
    finalUrl: 'http://127.0.0.1:8080/cdn/file.bin',
    size: 1000,
    etag: ETAG,
    lastModified: LAST_MODIFIED,
    written: [
      [0, 100],
      [200, 300],
    ],
    ...extra,
  };
}

/** A state as plain JSON data, with fields replaced or removed (undefined). */
function raw(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const data: Record<string, unknown> = { ...state() };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete data[key];
    else data[key] = value;
  }
  return data;
}

describe('parseControl', () => {
  it('accepts a complete state and returns it field for field', () => {
    const input = state({ checksum: 'sha256=' + 'ab'.repeat(32) });
    assert.deepEqual(parseControl(JSON.parse(JSON.stringify(input))), input);
  });

  it('accepts the smallest state: no validators, no checksum, nothing written', () => {
    const data = raw({ etag: undefined, lastModified: undefined, written: [] });
    assert.deepEqual(parseControl(data), {
      version: CONTROL_VERSION,
      url: 'http://127.0.0.1:8080/file.bin',
      finalUrl: 'http://127.0.0.1:8080/cdn/file.bin',
      size: 1000,
      written: [],
    });
  });

  it('accepts edge values: size 0, empty and whole-file ranges', () => {
    assert.equal(typeof parseControl(raw({ size: 0, written: [] })), 'object');
    assert.equal(typeof parseControl(raw({ size: 0, written: [[0, 0]] })), 'object');
    assert.deepEqual((parseControl(raw({ written: [[0, 1000]] })) as ControlState).written, [[0, 1000]]);
    assert.deepEqual((parseControl(raw({ written: [[5, 5]] })) as ControlState).written, [[5, 5]]);
    // Unsorted and overlapping ranges are not invalid (writtenSegments merges them).
    assert.deepEqual((parseControl(raw({ written: [[500, 600], [0, 10], [5, 20]] })) as ControlState).written, [
      [500, 600],
      [0, 10],
      [5, 20],
    ]);
  });

  it('drops unknown fields instead of carrying them along', () => {
    const parsed = parseControl({ ...raw(), extra: 'x' });
    assert.equal(typeof parsed, 'object');
    assert.ok(!('extra' in (parsed as object)));
  });

  it('does not alias the input arrays', () => {
    const data = raw();
    const parsed = parseControl(data) as ControlState;
    (data.written as Array<[number, number]>)[0]![1] = 999;
    assert.deepEqual(parsed.written[0], [0, 100]);
  });

  const rejected: Array<[string, unknown, RegExp]> = [
    ['null', null, /object/],
    ['a number', 42, /object/],
    ['a string', '{"version":1}', /object/],
    ['an array', [], /version/],
    ['no version', raw({ version: undefined }), /version/],
    ['version 2', raw({ version: 2 }), /version 2/],
    ['version 0', raw({ version: 0 }), /version/],
    ['version "1"', raw({ version: '1' }), /version/],
    ['no url', raw({ url: undefined }), /URL/],
    ['a numeric url', raw({ url: 7 }), /URL/],
    ['no finalUrl', raw({ finalUrl: undefined }), /URL/],
    ['no size', raw({ size: undefined }), /size/],
    ['a negative size', raw({ size: -1, written: [] }), /size/],
    ['a fractional size', raw({ size: 10.5, written: [] }), /size/],
    ['a string size', raw({ size: '1000' }), /size/],
    ['an unsafe size', raw({ size: 2 ** 53, written: [] }), /size/],
    ['a numeric etag', raw({ etag: 5 }), /etag/],
    ['a null etag', raw({ etag: null }), /etag/],
    ['a numeric lastModified', raw({ lastModified: 5 }), /lastModified/],
    ['a numeric checksum', raw({ checksum: 5 }), /checksum/],
    ['no written', raw({ written: undefined }), /written/],
    ['written as an object', raw({ written: { 0: [0, 1] } }), /written/],
    ['written as a string', raw({ written: 'all' }), /written/],
    ['a range that is not a pair', raw({ written: [[0, 1, 2]] }), /range/],
    ['a range that is a number', raw({ written: [5] }), /range/],
    ['a range with a string', raw({ written: [['0', 10]] }), /range/],
    ['a range with a fraction', raw({ written: [[0, 10.5]] }), /range/],
    ['a range with a negative start', raw({ written: [[-1, 10]] }), /range/],
    ['a backwards range', raw({ written: [[10, 5]] }), /range/],
    ['a range past the size', raw({ written: [[900, 1001]] }), /range/],
    ['a good range then a bad one', raw({ written: [[0, 10], [20, 2000]] }), /range/],
  ];
  for (const [name, data, reason] of rejected) {
    it(`rejects ${name} with a reason`, () => {
      const result = parseControl(data);
      assert.equal(typeof result, 'string', `accepted ${JSON.stringify(data)}`);
      assert.match(result as string, reason);
    });
  }
});

describe('readControl', () => {
  it('reports a missing file as missing, not corrupt', async (t) => {
    const dir = await tempDir(t);
    assert.deepEqual(await readControl(join(dir, 'nothing.part.json')), { kind: 'missing' });
  });

  it('reads back a valid file', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'f.part.json');
    await writeFile(path, JSON.stringify(state()) + '\n');
    assert.deepEqual(await readControl(path), { kind: 'ok', state: state() });
  });

  const damaged: Array<[string, string | Buffer, RegExp]> = [
    ['garbage bytes', Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x7b]), /JSON/],
    ['an empty file', '', /JSON/],
    ['whitespace only', '  \n', /JSON/],
    ['truncated JSON', JSON.stringify(state()).slice(0, 40), /JSON/],
    ['JSON cut just before the last brace', JSON.stringify(state()).slice(0, -1), /JSON/],
    ['a NUL-filled file (a crash after the size was extended)', Buffer.alloc(64), /JSON/],
    ['JSON null', 'null', /object/],
    ['a wrong format version', JSON.stringify({ ...state(), version: 2 }), /version 2/],
    ['a claim past the size', JSON.stringify({ ...state(), written: [[0, 1001]] }), /range/],
  ];
  for (const [name, content, reason] of damaged) {
    it(`reports ${name} as corrupt with a reason, without throwing`, async (t) => {
      const dir = await tempDir(t);
      const path = join(dir, 'f.part.json');
      await writeFile(path, content);
      const result = await readControl(path);
      assert.equal(result.kind, 'corrupt');
      assert.match((result as { reason: string }).reason, reason);
    });
  }

  it('reports a directory in the way as corrupt, without throwing', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'f.part.json');
    await mkdir(path);
    const result = await readControl(path);
    assert.equal(result.kind, 'corrupt');
  });
});

describe('writeControl', () => {
  it('writes a file readControl reads back, and leaves no temporary file', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'f.part.json');
    await writeControl(path, state());
    assert.deepEqual(await readdir(dir), ['f.part.json']);
    assert.deepEqual(await readControl(path), { kind: 'ok', state: state() });
    assert.ok((await readFile(path, 'utf8')).endsWith('\n'));
  });

  it('replaces an earlier state and a stale temporary file left by a crash', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'f.part.json');
    await writeControl(path, state());
    await writeFile(`${path}.tmp`, 'half a state from a killed process {"vers');
    const next = state({ written: [[0, 1000]] });
    await writeControl(path, next);
    assert.deepEqual(await readdir(dir), ['f.part.json']);
    assert.deepEqual(await readControl(path), { kind: 'ok', state: next });
  });

  it('never lets a reader see a partial state while states are being saved', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'f.part.json');
    // Big states (long range lists), so a non-atomic write would be visible half done.
    const big = (n: number): ControlState =>
      state({ size: 10_000_000, written: Array.from({ length: 2000 + n }, (_, i) => [i * 1000, i * 1000 + 500] as [number, number]) });
    await writeControl(path, big(0));
    let writing = true;
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        const result = await readControl(path);
        assert.equal(result.kind, 'ok', `a reader saw ${JSON.stringify(result).slice(0, 200)}`);
        reads++;
      }
    })();
    try {
      for (let i = 1; i <= 60; i++) await writeControl(path, big(i % 7));
    } finally {
      writing = false;
      await reader;
    }
    assert.ok(reads > 0);
    assert.deepEqual(await readdir(dir), ['f.part.json']);
  });

  it('fails with the file-system error when the directory does not exist', async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(writeControl(join(dir, 'missing', 'f.part.json'), state()), { code: 'ENOENT' });
  });
});

describe('removeControl', () => {
  it('removes the file and its temporary, and is quiet when neither exists', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'f.part.json');
    await writeControl(path, state());
    await writeFile(`${path}.tmp`, 'x');
    await writeFile(join(dir, 'f.part'), 'data');
    await removeControl(path);
    assert.deepEqual(await readdir(dir), ['f.part']);
    await removeControl(path);
    assert.deepEqual(await readControl(path), { kind: 'missing' });
  });
});

describe('writtenSegments', () => {
  const claims = state({
    size: 1000,
    written: [
      [0, 100],
      [200, 300],
      [600, 1000],
    ],
  });

  it('keeps every claim when the .part is as long as the file (or longer)', () => {
    const all = [
      { start: 0, end: 100 },
      { start: 200, end: 300 },
      { start: 600, end: 1000 },
    ];
    assert.deepEqual(writtenSegments(claims, 1000), all);
    assert.deepEqual(writtenSegments(claims, 5000), all);
  });

  it('clips claims to a shorter .part: a range cut in the middle keeps its prefix', () => {
    assert.deepEqual(writtenSegments(claims, 250), [
      { start: 0, end: 100 },
      { start: 200, end: 250 },
    ]);
    assert.deepEqual(writtenSegments(claims, 700), [
      { start: 0, end: 100 },
      { start: 200, end: 300 },
      { start: 600, end: 700 },
    ]);
  });

  it('drops claims that start at or past the end of the .part', () => {
    assert.deepEqual(writtenSegments(claims, 200), [{ start: 0, end: 100 }]);
    assert.deepEqual(writtenSegments(claims, 150), [{ start: 0, end: 100 }]);
    assert.deepEqual(writtenSegments(claims, 50), [{ start: 0, end: 50 }]);
    assert.deepEqual(writtenSegments(claims, 0), []);
  });

  it('sorts, merges overlapping and adjacent claims, and drops empty ones', () => {
    const messy = state({
      size: 1000,
      written: [
        [500, 600],
        [0, 10],
        [5, 20],
        [20, 30],
        [700, 700],
        [550, 650],
      ],
    });
    assert.deepEqual(writtenSegments(messy, 1000), [
      { start: 0, end: 30 },
      { start: 500, end: 650 },
    ]);
  });

  it('claims nothing for a state with nothing written', () => {
    assert.deepEqual(writtenSegments(state({ written: [] }), 1000), []);
  });
});

describe('resumeProblem', () => {
  const remote = (extra: Partial<RemoteIdentity> = {}): RemoteIdentity => ({
    size: 1000,
    etag: ETAG,
    lastModified: LAST_MODIFIED,
    acceptsRanges: true,
    ...extra,
  });

  it('trusts the bytes when size, ETag and Last-Modified all match', () => {
    assert.equal(resumeProblem(state(), remote()), undefined);
  });

  it('trusts a matching strong ETag alone, and a matching Last-Modified alone', () => {
    assert.equal(resumeProblem(state({ lastModified: undefined }), remote({ lastModified: undefined })), undefined);
    assert.equal(resumeProblem(state({ etag: undefined }), remote({ etag: undefined })), undefined);
    // A server that now sends a validator it did not send before is still the same file
    // as far as the stored validator can tell.
    assert.equal(resumeProblem(state({ etag: undefined }), remote()), undefined);
  });

  it('refuses when the server no longer supports ranges', () => {
    assert.match(resumeProblem(state(), remote({ acceptsRanges: false })) ?? '', /ranges/);
  });

  it('refuses when the size changed or is unknown now', () => {
    assert.match(resumeProblem(state(), remote({ size: 1001 })) ?? '', /size.*1000.*1001/);
    assert.match(resumeProblem(state(), remote({ size: undefined })) ?? '', /size.*unknown/);
  });

  it('refuses a state without ETag and Last-Modified: an unchanged file cannot be confirmed', () => {
    const problem = resumeProblem(state({ etag: undefined, lastModified: undefined }), remote());
    assert.match(problem ?? '', /no ETag or Last-Modified/);
  });

  it('refuses when the ETag changed or disappeared', () => {
    assert.match(resumeProblem(state(), remote({ etag: '"abc-1001"' })) ?? '', /ETag "abc-1000" → "abc-1001"/);
    assert.match(resumeProblem(state(), remote({ etag: undefined })) ?? '', /ETag .* → none/);
  });

  it('refuses when the Last-Modified changed or disappeared, even with the same ETag', () => {
    const later = 'Tue, 09 Jul 2024 12:38:08 GMT';
    assert.match(resumeProblem(state(), remote({ lastModified: later })) ?? '', /Last-Modified/);
    assert.match(resumeProblem(state({ etag: undefined }), remote({ lastModified: undefined })) ?? '', /Last-Modified .* → none/);
  });

  it('does not trust a weak ETag alone: it cannot vouch for bytes (RFC 9110 §8.8.1, §13.1.5)', () => {
    // A weak ETag says "semantically equivalent", not "byte-identical": a server may keep
    // W/"v1" while the bytes change (another compression level...). Range requests cannot
    // carry it in If-Range either, so a change during the download would go unseen.
    const weak = 'W/"v1"';
    const problem = resumeProblem(state({ etag: weak, lastModified: undefined }), remote({ etag: weak, lastModified: undefined }));
    assert.notEqual(problem, undefined, 'resumed on a weak ETag alone');
  });

  it('trusts a weak ETag together with a matching Last-Modified (If-Range uses the date)', () => {
    const weak = 'W/"v1"';
    assert.equal(resumeProblem(state({ etag: weak }), remote({ etag: weak })), undefined);
  });
});
