/**
 * The control file: `<output>.part.json`, beside the `.part` file. It records which bytes
 * of the `.part` file are written, and for which version of which remote file, so any
 * interrupted download can resume.
 *
 * It never claims a byte that is not on disk: the caller syncs the `.part` data before
 * saving a state that claims it, and the state is written to a temporary file, synced and
 * renamed over the old one, so a crash at any instant leaves a true state, merely behind.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { removeFile } from './files.js';
import { normalize, type ByteRange } from '../primitives/ranges.js';
import type { Checksum } from '../primitives/checksum.js';

/** Format version; a control file of another version is not trusted. */
export const CONTROL_VERSION = 1;

/** What a control file holds. */
export interface ControlState {
  version: typeof CONTROL_VERSION;
  /** The URL asked for. */
  url: string;
  /** The URL that served the bytes. */
  finalUrl: string;
  size: number;
  etag?: string;
  lastModified?: string;
  /** The `--checksum` asked for, as `algo=hex`. */
  checksum?: string;
  /**
   * The digest, as `algo=hex`, of a complete `.part` file that failed its checksum: its bytes
   * are kept, so that a run with the right checksum verifies them instead of fetching them again.
   */
  digest?: string;
  /** Written byte ranges `[start, end)`, merged and sorted. */
  written: Array<[number, number]>;
}

/** The file a new state is for, as probed. */
export interface ControlFile {
  url: string;
  finalUrl: string;
  size: number;
  etag?: string;
  lastModified?: string;
}

/** The state of a download that has written nothing yet. */
export function newControlState(file: ControlFile, checksum?: Checksum): ControlState {
  return {
    version: CONTROL_VERSION,
    url: file.url,
    finalUrl: file.finalUrl,
    size: file.size,
    written: [],
    ...(file.etag ? { etag: file.etag } : {}),
    ...(file.lastModified ? { lastModified: file.lastModified } : {}),
    ...(checksum ? { checksum: `${checksum.algorithm}=${checksum.hex}` } : {}),
  };
}

/** Result of reading a control file. */
export type ControlRead =
  | { kind: 'missing' }
  | { kind: 'ok'; state: ControlState }
  | { kind: 'corrupt'; reason: string };

/** Validate parsed JSON as a control state; returns a reason when it is not one. */
export function parseControl(data: unknown): ControlState | string {
  if (typeof data !== 'object' || data === null) return 'not a JSON object';
  const d = data as Record<string, unknown>;
  if (d.version !== CONTROL_VERSION) return `unknown format version ${JSON.stringify(d.version)}`;
  if (typeof d.url !== 'string' || typeof d.finalUrl !== 'string') return 'no URL';
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) return 'no valid size';
  if (d.etag !== undefined && typeof d.etag !== 'string') return 'invalid etag';
  if (d.lastModified !== undefined && typeof d.lastModified !== 'string') return 'invalid lastModified';
  if (d.checksum !== undefined && typeof d.checksum !== 'string') return 'invalid checksum';
  if (d.digest !== undefined && typeof d.digest !== 'string') return 'invalid digest';
  if (!Array.isArray(d.written)) return 'no written ranges';
  const written: Array<[number, number]> = [];
  for (const pair of d.written) {
    if (
      !Array.isArray(pair) ||
      pair.length !== 2 ||
      !Number.isSafeInteger(pair[0]) ||
      !Number.isSafeInteger(pair[1]) ||
      pair[0] < 0 ||
      pair[1] < pair[0] ||
      pair[1] > d.size
    ) {
      return `invalid written range ${JSON.stringify(pair)}`;
    }
    written.push([pair[0], pair[1]]);
  }
  const state: ControlState = { version: CONTROL_VERSION, url: d.url, finalUrl: d.finalUrl, size: d.size, written };
  if (typeof d.etag === 'string') state.etag = d.etag;
  if (typeof d.lastModified === 'string') state.lastModified = d.lastModified;
  if (typeof d.checksum === 'string') state.checksum = d.checksum;
  if (typeof d.digest === 'string') state.digest = d.digest;
  return state;
}

/** Read a control file. A missing file is not an error; an unreadable one is "corrupt". */
export async function readControl(path: string): Promise<ControlRead> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', reason: (err as Error).message };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { kind: 'corrupt', reason: 'not valid JSON (truncated?)' };
  }
  const state = parseControl(data);
  return typeof state === 'string' ? { kind: 'corrupt', reason: state } : { kind: 'ok', state };
}

/** Write a control file atomically: temporary file, fsync (unless `sync` is false), rename. */
export async function writeControl(path: string, state: ControlState, sync = true): Promise<void> {
  const temp = `${path}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(JSON.stringify(state) + '\n');
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

/** Remove a control file (after a successful download, or to start over). */
export async function removeControl(path: string): Promise<void> {
  await removeFile(path);
  await removeFile(`${path}.tmp`);
}

/** Segments from a state, clipped to what the `.part` file can hold. */
export function writtenSegments(state: ControlState, partSize: number): ByteRange[] {
  return normalize(
    state.written.map(([start, end]) => ({ start, end })),
    Math.min(state.size, partSize),
  );
}
