/**
 * rangeget: multi-connection HTTP range downloader.
 *
 * @example
 * import { download } from 'rangeget';
 * const result = await download('https://example.com/file.iso', { output: 'file.iso', connections: 16 });
 */
export { download, inspect } from './download.js';
export { downloadStream, downloadTo, type DownloadStream, type StreamOptions } from './stream.js';
export { startDownload, type DownloadTask } from './task.js';
export {
  downloadMany,
  inspectMany,
  batchExitCode,
  DEFAULT_JOBS,
  type BatchItem,
  type BatchItemOptions,
  type BatchItemResult,
  type BatchOptions,
  type InspectItemResult,
  downloadMetalink,
} from './batch.js';
export { parseMetalink, type MetalinkFile, type MetalinkUrl } from './metalink.js';
export { parseInputFile, type InputEntry } from './input-file.js';
export type { DownloadOptions } from './options.js';
export type { DownloadEvent, DownloadResult, Inspection, Progress, SkipReason, VerifiedDigest } from './engine/events.js';
export type { Checksum, ChecksumAlgorithm, PieceHashes } from './primitives/checksum.js';
export * from './primitives/errors.js';
export { planRanges, PIECES_PER_CONNECTION, type PlanInput } from './engine/plan.js';
export type { ByteRange, Segment } from './primitives/ranges.js';
export { RateLimiter } from './engine/rate.js';
