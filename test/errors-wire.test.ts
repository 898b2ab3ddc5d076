/**
 * Errors keep their class and fields when they cross from a worker thread: the unit part
 * sends every class through a real worker (structured clone, as the pool's messages go); the
 * end-to-end part makes worker threads raise them against a loopback server and checks what
 * `download()` rejects with (files over 4 MiB: smaller ones are fetched in the main thread).
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import {
  AbortError,
  ChecksumError,
  download,
  FileError,
  FileExistsError,
  HttpError,
  InternalError,
  NetworkError,
  NoSpaceError,
  RangegetError,
  RedirectError,
  RemoteChangedError,
  ServerError,
  SizeError,
  TimeoutError,
  UsageError,
  type DownloadOptions,
} from '../src/index.js';
import { fromWire, type WireError } from '../src/primitives/errors.js';
import { serve, type FileSpec } from './helpers/server.js';
import { tempDir } from './helpers/tmp.js';

const MiB = 1024 * 1024;
const T = { timeout: 30_000 };

/** Each class as a worker builds it, with the fields the main thread must see again. */
const made: Array<{ make: string; Class: abstract new (...args: never[]) => RangegetError; fields: Record<string, unknown> }> = [
  { make: `new UsageError('bad flag')`, Class: UsageError, fields: { code: 'EUSAGE', message: 'bad flag' } },
  { make: `new HttpError(404, 'http://h/x', 'not here')`, Class: HttpError, fields: { status: 404, url: 'http://h/x', message: 'not here' } },
  { make: `new RedirectError('loop')`, Class: RedirectError, fields: { code: 'EREDIRECT' } },
  { make: `new NetworkError('reset')`, Class: NetworkError, fields: { code: 'ENETWORK', exitCode: 4 } },
  { make: `new TimeoutError('slow')`, Class: TimeoutError, fields: { code: 'ETIMEOUT' } },
  { make: `new ServerError('bad range')`, Class: ServerError, fields: { code: 'ESERVER', exitCode: 3 } },
  { make: `new ChecksumError('sha256', 'aa', 'bb')`, Class: ChecksumError, fields: { expected: 'aa', actual: 'bb', code: 'ECHECKSUM' } },
  { make: `new SizeError(10, 9)`, Class: SizeError, fields: { message: 'size mismatch: expected 10 bytes, have 9; the file was not saved' } },
  {
    make: `new FileExistsError('/tmp/f')`,
    Class: FileExistsError,
    // Both wordings cross: the library's (options) and the CLI's (flags).
    fields: {
      path: '/tmp/f',
      code: 'EEXIST',
      message: '/tmp/f already exists; pass `continue: true` to finish it (nothing is fetched if it is complete), `overwrite: true` to replace it, or `output` to choose another name',
      cliMessage: '/tmp/f already exists; pass --continue to finish it (nothing is fetched if it is complete), --overwrite to replace it, or -o to choose another name',
    },
  },
  { make: `new FileError('denied')`, Class: FileError, fields: { code: 'EFILE', exitCode: 6 } },
  { make: `fileError(Object.assign(new Error('x'), { code: 'ENOSPC' }), '/d/f.part')`, Class: NoSpaceError, fields: { code: 'ENOSPACE', exitCode: 6 } },
  { make: `new RemoteChangedError('changed')`, Class: RemoteChangedError, fields: { code: 'ECHANGED', exitCode: 7 } },
  { make: `new AbortError()`, Class: AbortError, fields: { code: 'EABORTED' } },
  { make: `new InternalError('bug')`, Class: InternalError, fields: { code: 'EINTERNAL', exitCode: 1 } },
];

/** Build each error in a worker thread and bring its wire form back. */
async function throughWorker(): Promise<WireError[]> {
  const errors = new URL('../src/primitives/errors.js', import.meta.url).href;
  const code = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(errors)}).then((m) => {
      const { ${[...new Set(made.map((m) => /^(?:new )?(\w+)/.exec(m.make)![1]))].join(', ')}, toWire } = m;
      parentPort.postMessage([${made.map((m) => `toWire(${m.make})`).join(', ')}]);
    });`;
  const worker = new Worker(code, { eval: true });
  try {
    return await new Promise<WireError[]>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}

describe('errors crossing from a worker thread', () => {
  it('every class comes back as itself, with its code, exit code, message and fields', T, async () => {
    const wires = await throughWorker();
    assert.equal(wires.length, made.length);
    wires.forEach((wire, i) => {
      const { Class, fields, make } = made[i]!;
      const err = fromWire(wire);
      assert.ok(err instanceof Class, `${make} came back as ${err.constructor.name}`);
      assert.equal(err.name, Class.name);
      for (const [key, value] of Object.entries(fields)) assert.equal((err as unknown as Record<string, unknown>)[key], value, `${make}: ${key}`);
      assert.equal(err.message, wire.message);
    });
  });

  it('an unknown class name comes back as a RangegetError with its code', () => {
    const err = fromWire({ name: 'FutureError', code: 'ESERVER', message: 'm', fields: {} });
    assert.equal(err.constructor, RangegetError);
    assert.equal(err.code, 'ESERVER');
  });
});

/** Download a file that a worker thread fetches, expecting a failure. */
async function failure(t: TestContext, spec: Omit<FileSpec, "size">, options: DownloadOptions = {}): Promise<unknown> {
  const srv = await serve(t, { '/f.bin': { ...spec, size: 5 * MiB } });
  const dir = await tempDir(t);
  return download(srv.url('/f.bin'), { dir, connections: 2, retries: 1, retryWait: 10, timeout: 5000, ...options }).then(
    () => assert.fail('the download succeeded'),
    (err: unknown) => err,
  );
}

describe('download() rejects with the class the worker raised', { concurrency: 4 }, () => {
  it('HttpError with its status and URL (404 to the ranges)', T, async (t) => {
    const err = await failure(t, { faults: { rangeStatus: 404 } });
    assert.ok(err instanceof HttpError, String(err));
    assert.equal(err.status, 404);
    assert.match(err.url, /\/f\.bin$/);
  });

  it('NetworkError when a retryable status outlasts the retries', T, async (t) => {
    const err = await failure(t, { faults: { failFirst: 1000 } });
    assert.ok(err instanceof NetworkError, String(err));
    assert.match(err.message, /HTTP 503.*after 1 retries/);
  });

  it('ServerError when every answer has the wrong Content-Range', T, async (t) => {
    const err = await failure(t, { faults: { wrongContentRange: 1000 } });
    assert.ok(err instanceof ServerError, String(err));
  });

  it('RemoteChangedError when the file changes under the ranges (restart off)', T, async (t) => {
    const srv = await serve(t, { '/f.bin': { size: 5 * MiB, throttle: 8 * MiB } });
    const dir = await tempDir(t);
    const err = await download(srv.url('/f.bin'), {
      dir,
      connections: 2,
      restart: false,
      retryWait: 10,
      // Once the ranges run, the server has another version (new ETag and date): If-Range gets a 200.
      onEvent: (e) => {
        if (e.type === 'start') srv.set('/f.bin', { size: 5 * MiB, seed: 99, throttle: 8 * MiB });
      },
    }).then(
      () => assert.fail('the download succeeded'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RemoteChangedError, String(err));
    assert.match(err.message, /changed/);
  });

  it('TimeoutError when a range stalls past the timeout', T, async (t) => {
    const err = await failure(t, { faults: { stallAfter: 1024, stallEvery: true } }, { timeout: 300, retries: 0 });
    assert.ok(err instanceof TimeoutError, String(err));
    assert.match(err.message, /stalled/);
  });
});
