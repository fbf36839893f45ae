/** The loader's only way into the host page: every callback wrapped so it can never throw there. */

export function guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch {
      // never into the host page
    }
  };
}

/** A passive listener (capture phase unless told), wrapped by `guard`. */
export function listen<E extends Event>(target: EventTarget, type: string, fn: (event: E) => void,
                                        capture = true): void {
  try {
    target.addEventListener(type, guard(fn as (event: Event) => void), { capture, passive: true });
  } catch {
    // an exotic host environment: that sensor stays off
  }
}

export function later(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
  return setTimeout(guard(fn), ms);
}
