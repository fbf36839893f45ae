/** DOM and browser helpers of the widget app: a builder that only ever writes text, storage, ids. */

import type { StorageLike } from "./outbox";

type Child = Node | string | null | undefined | false;

/**
 * `h("button", {type: "submit"}, "Send")`. Attribute values and string children are set as
 * text: server data can never become markup.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K, attrs: Record<string, string | boolean | undefined> = {}, ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === undefined) continue;
    el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

let counter = 0;

/** A unique element id for label/aria wiring. */
export function uid(prefix: string): string {
  counter += 1;
  return `engage-${prefix}-${counter}`;
}

/** A labelled field: `<label for>` + control (+ hint and error lines wired by aria-describedby). */
export function field(label: string, control: HTMLInputElement | HTMLTextAreaElement,
                      hint?: string): { el: HTMLElement; error: HTMLElement } {
  control.id = control.id || uid("field");
  const error = h("p", { class: "engage-error", id: `${control.id}-error`, role: "alert" });
  const described = [error.id];
  const hintEl = hint ? h("p", { class: "engage-hint", id: `${control.id}-hint` }, hint) : null;
  if (hintEl !== null) described.unshift(hintEl.id);
  control.setAttribute("aria-describedby", described.join(" "));
  return { el: h("div", { class: "engage-field" }, h("label", { for: control.id }, label), control, hintEl, error),
           error };
}

/** `localStorage` / `sessionStorage`, or null where the browser blocks them. */
export function browserStorage(kind: "local" | "session"): StorageLike | null {
  try {
    const s = kind === "local" ? window.localStorage : window.sessionStorage;
    const probe = "engage.probe";
    s.setItem(probe, "1");
    s.removeItem(probe);
    return s;
  } catch {
    return null;
  }
}

/** A v4 UUID (crypto.randomUUID where available). */
export function uuid(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function formatClock(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** Saves a blob as a file through a temporary link. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, class: "engage-hidden" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
