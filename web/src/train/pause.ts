// Pause and resume for a training run in the tab. The trainer awaits its callbacks
// (tasks/callbacks.ts), so a callback on `on_train_batch_end` that returns `gate.wait()` holds the
// loop between two batches for as long as the gate is shut: no polling, no busy loop, the GPU
// queue idle and the page responsive. The step that was running when pause was pressed finishes
// first; nothing in the optimizer, EMA or data order changes, so a paused run gives the numbers
// of an uninterrupted one.
//
// Imports: nothing.

export class PauseGate {
  private release: (() => void) | null = null;
  private shut: Promise<void> | null = null;
  /** true while the trainer is held at the gate (not merely asked to pause) */
  waiting = false;
  /** called when the trainer reaches the shut gate and when it is let through */
  onChange: ((waiting: boolean) => void) | null = null;

  get paused(): boolean {
    return this.shut !== null;
  }

  /** The next `wait()` holds until `resume()`. */
  pause(): void {
    this.shut ??= new Promise<void>((r) => (this.release = r));
  }

  resume(): void {
    const r = this.release;
    this.shut = this.release = null;
    r?.();
  }

  /** What the trainer awaits between batches: resolves at once when open. */
  async wait(): Promise<void> {
    if (!this.shut) return;
    this.waiting = true;
    this.onChange?.(true);
    while (this.shut) await this.shut; // pause pressed again before the loop went on: hold again
    this.waiting = false;
    this.onChange?.(false);
  }
}
