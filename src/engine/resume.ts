/**
 * The resume decision: which bytes an earlier run left can be kept for the remote file as
 * probed now. The comparison is pure ({@link resumeProblem}); the engine reads the control
 * file and acts on the answer.
 */
import { canVouch, validatorChange, type Validators } from '../http/validators.js';
import type { ControlState } from '../storage/control-file.js';

/** The remote file as probed now, to compare with a stored state. */
export interface RemoteIdentity extends Validators {
  size: number | undefined;
  /** The server answers byte ranges. */
  acceptsRanges: boolean;
}

/**
 * Can the bytes of a stored state be trusted for this remote file? Returns undefined when
 * they can, otherwise the reason to start over.
 */
export function resumeProblem(state: ControlState, remote: RemoteIdentity): string | undefined {
  if (!remote.acceptsRanges) return 'the server does not support ranges, so the download cannot be resumed';
  if (remote.size !== state.size) {
    return `the remote file changed size (${state.size} → ${remote.size ?? 'unknown'} bytes)`;
  }
  // A weak ETag may stay the same while the bytes change: it cannot vouch for old bytes.
  if (!canVouch(state)) {
    return state.etag
      ? `the server gives only a weak ETag (${state.etag}) and no Last-Modified, so an unchanged remote file cannot be confirmed`
      : 'the server gives no ETag or Last-Modified, so an unchanged remote file cannot be confirmed';
  }
  const change = validatorChange(state, remote, true);
  return change ? `the remote file changed (${change})` : undefined;
}
