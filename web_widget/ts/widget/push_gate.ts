/**
 * Pushes that overtake the answer naming their interaction (several nodes publish): while a
 * contact answer is awaited they are held (capped), then replayed once it was taken in. Pure.
 */

export const EARLY_PUSH_CAP = 50;

export class PushGate {
  private requesting = 0; // contact requests (or invite accepts) waiting for their answer
  private early: (() => void)[] = []; // pushes that came before that answer

  /** `current` names the interaction the widget shows (null: none). */
  constructor(private readonly current: () => string | null) {}

  /** Handles a push of the current interaction (or of none) now, holds one of another
   * interaction while an answer is awaited, and drops it otherwise. */
  route<P>(payload: P, handler: (payload: P) => void): void {
    const ix = (payload as { interaction?: string }).interaction;
    if (ix === undefined || ix === this.current()) handler(payload);
    else if (this.requesting > 0 && this.early.length < EARLY_PUSH_CAP) {
      this.early.push(() => {
        if (ix === this.current()) handler(payload);
      });
    }
  }

  /** Waits for a contact answer, lets `apply` take it in, then replays the held pushes. */
  async answered<T, R>(pending: Promise<T>, apply: (answer: T) => R): Promise<R> {
    this.requesting += 1;
    let answer: T;
    try {
      answer = await pending;
    } finally {
      this.requesting -= 1;
    }
    const outcome = apply(answer);
    for (const replay of this.early.splice(0)) replay();
    return outcome;
  }
}
