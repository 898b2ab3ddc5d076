/**
 * rangeget: multi-connection HTTP range downloader.
 *
 * @example
 * import { download } from 'rangeget';
 * const result = await download('https://example.com/file.iso', { output: 'file.iso', connections: 16 });
 */
export { download, inspect } from './download.js';
export { startDownload, type DownloadTask } from './task.js';
export {
  downloadMany,
  inspectMany,
  parseInputFile,
  batchExitCode,
  DEFAULT_JOBS,
  type BatchItem,
  type BatchItemOptions,
  type BatchItemResult,
  type BatchOptions,
  type InputEntry,
  type InspectItemResult,
} from './batch.js';
export type { DownloadOptions } from './options.js';
export type { DownloadEvent, DownloadResult, Inspection, Progress } from './events.js';
export type { Checksum, ChecksumAlgorithm } from './parse.js';
export * from './errors.js';
export { planRanges, PIECES_PER_CONNECTION, type Segment, type PlanInput } from './plan.js';
export { RateLimiter } from './rate.js';
