/**
 * Compile-time tests of the public API: `tsc` (run by `npm test` before any test) fails the
 * build when a type here drifts. `Equal` checks a type exactly; `@ts-expect-error` marks
 * what must not compile (an unused one is itself an error). Nothing here runs.
 */
import {
  batchExitCode,
  download,
  downloadMany,
  downloadStream,
  downloadTo,
  downloadMetalink,
  parseMetalink,
  inspect,
  HttpError,
  NoSpaceError,
  planRanges,
  RangegetError,
  RateLimiter,
  startDownload,
  type BatchItemResult,
  type ByteRange,
  type DownloadEvent,
  type DownloadOptions,
  type DownloadResult,
  type ErrorCode,
  type Inspection,
  type Segment,
  type StreamOptions,
  type MetalinkFile,
  type VerifiedDigest,
} from '../src/index.js';
import type { Readable } from 'node:stream';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type IsAny<T> = 0 extends 1 & T ? true : false;
function check<T extends true>(): T | undefined {
  return undefined;
}

// Results and options are exact, and no `any` leaks out of them.
check<Equal<ReturnType<typeof download>, Promise<DownloadResult>>>();
check<Equal<ReturnType<typeof inspect>, Promise<Inspection>>>();
check<Equal<Awaited<ReturnType<typeof downloadMany>>, BatchItemResult[]>>();
check<Equal<Awaited<ReturnType<typeof downloadMetalink>>, BatchItemResult[]>>();
check<Equal<ReturnType<typeof parseMetalink>, MetalinkFile[]>>();
check<Equal<DownloadResult['verified'], VerifiedDigest | undefined>>();
check<Equal<VerifiedDigest['source'], 'checksum' | 'Repr-Digest' | 'Digest'>>();
check<Equal<Parameters<typeof download>[0], string | URL>>();
check<Equal<IsAny<DownloadOptions[keyof DownloadOptions]>, false>>();
check<Equal<IsAny<DownloadResult[keyof DownloadResult]>, false>>();
check<Equal<IsAny<DownloadEvent>, false>>();
check<Equal<ReturnType<typeof planRanges>, ByteRange[]>>();
// The old name of a byte range still works: the same type.
check<Equal<Segment, ByteRange>>();

// Events narrow on `type`.
declare const event: DownloadEvent;
if (event.type === 'progress') check<Equal<typeof event.downloaded, number>>();
if (event.type === 'done') check<Equal<typeof event.path, string>>();
// @ts-expect-error a resume event has no `path`
if (event.type === 'resume') void event.path;

// A batch item is either a result or an error, never both.
declare const item: BatchItemResult;
if (item.ok) check<Equal<typeof item.result, DownloadResult>>();
else check<Equal<typeof item.error, RangegetError>>();
// @ts-expect-error `result` exists only on a successful item
void item.result;

// Errors: a code to switch on, subclasses with their own fields.
declare const err: RangegetError;
check<Equal<typeof err.code, ErrorCode>>();
if (err instanceof HttpError) check<Equal<typeof err.status, number>>();
check<Equal<NoSpaceError extends RangegetError ? true : false, true>>();
// @ts-expect-error not an error code
const bad: ErrorCode = 'ENOPE';
void bad;

// Options are checked.
// @ts-expect-error connections is a number
void download('https://example.com/f', { connections: '8' });
// @ts-expect-error no such option
void download('https://example.com/f', { conections: 8 });
// @ts-expect-error a batch has no common output file
void downloadMany(['https://example.com/f'], { output: 'x' });
void download('https://example.com/f', { maxSpeed: new RateLimiter(1024), checksum: { algorithm: 'sha256', hex: 'ab' } });
// @ts-expect-error not an algorithm rangeget knows
void download('https://example.com/f', { checksum: { algorithm: 'crc32', hex: 'ab' } });

// startDownload gives events and the same result.
const task = startDownload('https://example.com/f');
check<Equal<typeof task.result, Promise<DownloadResult>>>();
check<Equal<typeof task.events, AsyncIterable<DownloadEvent>>>();
check<Equal<ReturnType<typeof batchExitCode>, number>>();

// A stream: a Readable with its result; its options have no file on disk.
const stream = downloadStream('https://example.com/f', { connections: 16, streamWindow: 8 * 1024 * 1024 });
check<Equal<typeof stream.result, Promise<DownloadResult>>>();
check<Equal<typeof stream extends Readable ? true : false, true>>();
check<Equal<ReturnType<typeof downloadTo>, Promise<DownloadResult>>>();
check<Equal<StreamOptions['streamWindow'], number | undefined>>();
// @ts-expect-error a stream has no output file
void downloadStream('https://example.com/f', { output: 'x' });
// @ts-expect-error nor anything to resume
void downloadTo('https://example.com/f', process.stdout, { resume: true });
