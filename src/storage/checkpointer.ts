/**
 * The checkpointer: saves a download's control file while the bytes arrive, so that an
 * interrupted run resumes from them. It never claims a byte that is not on disk: the
 * written ranges are read, the `.part` data synced, and only then the state claiming them
 * saved (the control file itself is replaced atomically, see control-file.ts). Without `sync`
 * (`--no-fsync`) it claims the bytes the kernel has taken: a killed process loses none of
 * them, a power cut may.
 */
import type { FileHandle } from 'node:fs/promises';
import { removeControl, writeControl, type ControlState } from './control-file.js';
import type { ByteRange } from '../primitives/ranges.js';

/** What a checkpointer saves, where, and how often. */
export interface CheckpointerOptions {
  /** The `.part` file, synced before each save. */
  file: FileHandle;
  /**
   * Sync the `.part` data and the control file at each save. False (`--no-fsync`): the state
   * claims what the kernel has taken, as aria2c's does; a kill cannot lose it, a power cut can.
   */
  sync: boolean;
  /** The control file's path. */
  path: string;
  /** The state to save, its `written` filled in at each save; none: nothing is ever saved. */
  state: ControlState | undefined;
  /** The written ranges now; undefined while nothing writes yet (nothing is saved then). */
  written: () => readonly ByteRange[] | undefined;
  /** Milliseconds between the saves made from {@link Checkpointer.start} on. */
  interval: number;
  /** False when no control file is known to exist: {@link Checkpointer.finish} then removes none. */
  exists: boolean;
  /** A save failed; the download goes on (a later save may succeed). */
  onError: (err: Error) => void;
}

/** Saves the control file of one `.part` file, one save at a time. */
export class Checkpointer {
  private state: ControlState | undefined;
  /** The running save (with the ones asked for meanwhile), or the last one. */
  private saving: Promise<void> = Promise.resolve();
  private busy = false;
  /** A save was asked for while one ran. */
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  /** The newest synced state not yet written, and the writer writing it (see {@link syncOnce}). */
  private unwritten: ControlState | undefined;
  private writing: Promise<void> | undefined;
  /** False while this file is known to have no control file (none found, none saved). */
  private mayExist: boolean;

  constructor(private readonly options: CheckpointerOptions) {
    this.state = options.state;
    this.mayExist = options.exists;
  }

  /** Save every `interval` ms until {@link stop}, when there is a state to save. */
  start(): void {
    if (this.state) this.timer = setInterval(() => void this.save(), this.options.interval);
  }

  /**
   * Sync the data, then save the state that claims it. One sync at a time: a call while
   * one runs asks for one more after it, with a snapshot taken when it starts, so a slow
   * disk makes saves rarer, never a queue of old states. Resolves when that state is saved.
   */
  save(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return this.saving;
    }
    this.busy = true;
    this.saving = (async () => {
      do {
        this.again = false;
        await this.syncOnce().catch((err: unknown) => this.options.onError(err as Error));
      } while (this.again);
      this.busy = false;
      await this.writing;
    })();
    return this.saving;
  }

  /**
   * Where no control file exists yet, save a state claiming nothing: a `.part` rangeget leaves
   * then has one, and a `.part` without one is another program's (engine/resume.ts moves it
   * aside instead of overwriting it). `state`: this download's (default), or one that only
   * marks (a download without ranges saves no other). Not synced: it claims no byte.
   */
  async mark(state = this.state): Promise<void> {
    if (!state || this.mayExist) return;
    this.mayExist = true;
    await writeControl(this.options.path, { ...state, written: [] }, false);
  }

  /** Resolves when the last save asked for is done. */
  flush(): Promise<void> {
    return this.saving;
  }

  /** Stop the periodic saves and wait for the last one. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** Save nothing more and remove the control file: its bytes are not to be resumed. */
  async abandon(): Promise<void> {
    this.state = undefined;
    // A save under way would write its state after the removal.
    await this.flush();
    await removeControl(this.options.path);
    this.mayExist = false;
  }

  /**
   * Every byte is written and synced but the file failed its checksum: save a state that
   * claims the whole file, with the digest it has. False when there is no state to save
   * (no ranges, unknown size): the bytes cannot be kept for a later run.
   */
  async keepFailed(digest: string): Promise<boolean> {
    await this.stop();
    const state = this.state;
    if (!state) return false;
    state.written = state.size > 0 ? [[0, state.size]] : [];
    state.digest = digest;
    this.mayExist = true;
    await writeControl(this.options.path, state, this.options.sync);
    return true;
  }

  /** The download is complete: remove the control file, if one may exist. */
  async finish(): Promise<void> {
    if (this.mayExist) await removeControl(this.options.path);
  }

  /**
   * Sync the data written so far, then hand the state claiming it to the writer. The next
   * sync does not wait for the control file: where the main thread also fetches, each await
   * costs a turn of an event loop busy with 16 connections (tens of ms), and a save that took
   * six turns synced the file a few times per GiB instead of at every range done, leaving the
   * final sync most of the file: 1 GiB at -c 16, 10 alternating runs, 1.44 s against 1.17 s
   * with a worker thread fetching.
   */
  private async syncOnce(): Promise<void> {
    const current = this.state;
    if (!current) return;
    const snapshot = this.options.written();
    if (!snapshot) return;
    if (this.options.sync) await this.options.file.datasync();
    this.mayExist = true;
    this.unwritten = { ...current, written: snapshot.map((s) => [s.start, s.end]) };
    this.writing ??= this.writeLatest();
  }

  /** Write the newest state handed over until none is left (states between are skipped). */
  private async writeLatest(): Promise<void> {
    for (let state = this.unwritten; state; state = this.unwritten) {
      this.unwritten = undefined;
      await writeControl(this.options.path, state, this.options.sync).catch((err: unknown) => this.options.onError(err as Error));
    }
    this.writing = undefined;
  }
}
