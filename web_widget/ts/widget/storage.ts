import { type StorageLike } from "../../../signaling/client/dom";
/**
 * Storage for the app when the browser denies the frame its own (third-party storage
 * blocked): an in-memory copy seeded by the loader's `hello.state`, each write sent back to
 * the loader, which keeps it in the host page's storage. Keys start with `engage.`. Also the
 * per-site "panel open" flag kept across the host page's navigations.
 */


export const MIRROR_MAX_CHARS = 64 * 1024;

export class MirroredStorage implements StorageLike {
  private readonly data = new Map<string, string>();

  constructor(private readonly send: (key: string, value: string | null) => void) {}

  /** What the loader kept for us (only keys we could have written). */
  seed(state: Record<string, unknown>): void {
    for (const [key, value] of Object.entries(state)) {
      if (key.startsWith("engage.") && typeof value === "string" && !this.data.has(key)) this.data.set(key, value);
    }
  }

  getItem(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  setItem(key: string, value: string): void {
    if (!key.startsWith("engage.") || value.length > MIRROR_MAX_CHARS) throw new Error("engage: not kept");
    this.data.set(key, value);
    this.send(key, value);
  }

  removeItem(key: string): void {
    if (this.data.delete(key)) this.send(key, null);
  }
}

/** Whether the panel was open on the previous page of this tab (session storage, per site). */
export class OpenFlag {
  private readonly key: string;

  constructor(private readonly store: StorageLike | null, siteKey: string) {
    this.key = `engage.open.${siteKey}`;
  }

  get(): boolean {
    try {
      return this.store?.getItem(this.key) === "1";
    } catch {
      return false;
    }
  }

  set(open: boolean): void {
    try {
      if (open) this.store?.setItem(this.key, "1");
      else this.store?.removeItem(this.key);
    } catch {
      // storage blocked
    }
  }
}
