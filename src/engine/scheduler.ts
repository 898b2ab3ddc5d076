/**
 * The scheduler: the pool's policy as pure decisions. No I/O, no timers, no clock.
 */

/** A range being fetched: `position` is the next byte to write, `end` its exclusive end. */
export interface RunningRange {
  position: number;
  end: number;
  /** Bytes past the position that stay with this range (already on their way); default `margin`. */
  margin?: number;
}

/** Where to split a running range so an idle connection can take its far half. */
export interface Steal {
  /** Index into the list given to {@link chooseSteal}. */
  index: number;
  /** The new end of the running range and the start of the stolen one. */
  at: number;
}

/**
 * Work stealing: pick the running range with the most bytes left and split it at the
 * midpoint of what is left. `margin` bytes just past the current position stay with the
 * running connection (they may already be in its buffers). Returns undefined when no
 * range has enough left for both halves to be at least `minRangeSize`.
 */
export function chooseSteal(running: readonly RunningRange[], minRangeSize: number, margin = 0): Steal | undefined {
  let best: Steal | undefined;
  let bestLeft = 0;
  running.forEach((r, index) => {
    const from = Math.ceil(r.position + (r.margin ?? margin));
    const left = r.end - from;
    if (left >= 2 * minRangeSize && left > bestLeft) {
      bestLeft = left;
      best = { index, at: from + Math.ceil(left / 2) };
    }
  });
  return best;
}
