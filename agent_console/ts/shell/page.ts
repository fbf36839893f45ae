/**
 * What every staff page shares: the page context from `#app`, sections, the `#connection`
 * status, the announcement log and JSON API calls (the DOM builder is signaling/client/dom.ts).
 * No socket code here (see staff_socket.ts), so pages without one stay small.
 */

import {
  type Ack,
  CLIENT_CODES,
  CONNECTION_LABELS,
  type ConnectionState,
  errorAck,
  normalizeAck,
} from "../../../signaling/client/ack";
import type { Announcement } from "../../../signaling/client/protocol";
import { h } from "../../../signaling/client/dom";

export interface PageContext {
  root: HTMLElement;
  bundle: string;
  username: string;
  role: string;
}

export function pageContext(): PageContext {
  const root = document.getElementById("app");
  if (root === null) throw new Error("engage: the page has no #app element");
  return {
    root,
    bundle: root.dataset["bundle"] ?? "",
    username: root.dataset["username"] ?? "",
    role: root.dataset["role"] ?? "",
  };
}

/** A titled `<section>` labelled by its heading; returns the section to fill. */
export function section(id: string, title: string): HTMLElement {
  return h("section", { class: "panel", "aria-labelledby": `${id}-title`, id },
    h("h2", { id: `${id}-title` }, title));
}

export function goToLogin(): void {
  window.location.assign("/login");
}

/** Calls one listener; a failing listener is logged and never stops the others. */
export function safely<T>(listener: (value: T) => void, value: T): void {
  try {
    listener(value);
  } catch (err) {
    console.error("engage: listener failed", err);
  }
}

// -- status texts ---------------------------------------------------------------------

export function showConnection(state: ConnectionState): void {
  const el = document.getElementById("connection");
  if (el === null) return;
  el.textContent = CONNECTION_LABELS[state];
  el.classList.toggle("ok", state === "connected");
  el.classList.toggle("warn", state === "connecting" || state === "reconnecting");
  el.classList.toggle("bad", state === "disconnected");
}

/** A polite status line plus an assertive error line, for the result of one form. */
export interface Feedback {
  el: HTMLElement;
  ok(text: string): void;
  error(text: string): void;
  clear(): void;
}

export function feedback(id: string): Feedback {
  const status = h("p", { class: "status", role: "status", id: `${id}-status` });
  const alert = h("p", { class: "error", role: "alert", id: `${id}-error` });
  const el = h("div", { class: "feedback" }, status, alert);
  const set = (okText: string, errorText: string): void => {
    status.textContent = okText;
    alert.textContent = errorText;
  };
  return {
    el,
    ok: (text) => set(text, ""),
    error: (text) => set("", text),
    clear: () => set("", ""),
  };
}

// -- announcements --------------------------------------------------------------------

export const MAX_ANNOUNCEMENTS = 50;

export function formatTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export interface AnnouncementLog {
  el: HTMLElement;
  add(announcement: Announcement): void;
}

/** The live log of announcements, newest first, read out by screen readers as they come. */
export function announcementLog(): AnnouncementLog {
  const empty = h("p", { class: "muted" }, "No announcements yet.");
  const list = h("ul", { class: "announcements", "aria-live": "polite", "aria-relevant": "additions",
                         "data-testid": "announcements" });
  const el = section("announcements", "Announcements");
  el.append(empty, list);
  return {
    el,
    add(a) {
      empty.hidden = true;
      const item = h("li", { "data-testid": "announcement", class: `level-${a.level}` },
        h("span", { class: "level" }, a.level),
        h("span", { class: "text" }, a.text),
        h("span", { class: "meta" }, `${a.from || "system"} · ${formatTime(a.at)}`));
      list.prepend(item);
      while (list.children.length > MAX_ANNOUNCEMENTS) list.lastElementChild?.remove();
    },
  };
}

// -- HTTP -----------------------------------------------------------------------------

/** A same-origin JSON call answered like an ack; a 401 sends the user to sign in. */
export async function api<T extends object>(method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
                                             path: string,
                                             body?: object): Promise<Ack<T>> {
  const init: RequestInit = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers = { Accept: "application/json", "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    return errorAck(CLIENT_CODES.network, "could not reach the server");
  }
  if (response.status === 401) goToLogin();
  const raw: unknown = await response.json().catch(() => null);
  const ack = normalizeAck<T>(raw);
  if (!ack.ok && ack.code === CLIENT_CODES.badAck) {
    return errorAck(`http_${response.status}`, `the server answered ${response.status}`);
  }
  return ack;
}
