/**
 * The widget's frame of UI: the launcher button, the proactive prompt above it, and the chat
 * panel (`role="dialog"`) whose body shows one view at a time. Owns open/closed state, Esc,
 * focus return, the unread badge and the `layout` the loader sizes the iframe to.
 */

import type { ConnectionState } from "../../../signaling/client/ack";
import type { Translate } from "../i18n";
import { h } from "../../../signaling/client/dom";

export interface Layout {
  state: "launcher" | "open" | "hidden";
  width: number;
  height: number;
}

export interface PromptSpec {
  text: string;
  accept(): void;
  dismiss(): void;
  optOut(): void;
}

export const OPEN_SIZE = { width: 380, height: 560 } as const;
const DOCK_MARGIN_PX = 16;

export class WidgetShell {
  readonly launcher: HTMLButtonElement;
  readonly body: HTMLElement;
  private readonly dock: HTMLElement;
  private readonly dialog: HTMLElement;
  private readonly title: HTMLElement;
  private readonly status: HTMLElement;
  private readonly badge: HTMLElement;
  private prompt: HTMLElement | null = null;
  private opened = false;
  private unread = 0;
  private lastLayout = "";

  constructor(root: HTMLElement, private readonly t: Translate, title: string,
              private readonly postLayout: (layout: Layout) => void,
              private readonly onOpen: () => void, private readonly onClose: () => void) {
    this.badge = h("span", { class: "engage-badge", "aria-hidden": "true", hidden: true });
    this.launcher = h("button", { type: "button", class: "engage-launcher", "aria-haspopup": "dialog",
                                  "aria-expanded": "false" },
      h("span", { class: "engage-launcher-icon", "aria-hidden": "true" }), t("launcher"), this.badge);
    this.launcher.addEventListener("click", () => this.open(true));
    this.dock = h("div", { class: "engage-dock" }, this.launcher);

    this.title = h("h1", { id: "engage-panel-title", class: "engage-title" }, title);
    const close = h("button", { type: "button", class: "engage-close", "aria-label": t("close") }, "×");
    close.addEventListener("click", () => this.close());
    this.status = h("p", { class: "engage-connection", role: "status" });
    this.body = h("div", { class: "engage-body" });
    this.dialog = h("section", { class: "engage-panel", role: "dialog",
                                 "aria-labelledby": "engage-panel-title", hidden: true },
      h("header", { class: "engage-header" }, this.title, close), this.status, this.body);
    this.launcher.setAttribute("aria-controls", "engage-panel");
    this.dialog.id = "engage-panel";

    root.append(this.dock, this.dialog);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.opened) {
        event.preventDefault();
        this.close();
      }
    });
    if (typeof ResizeObserver === "function") new ResizeObserver(() => this.report()).observe(this.dock);
    this.report();
  }

  get isOpen(): boolean {
    return this.opened;
  }

  open(focus: boolean): void {
    if (!this.opened) {
      this.opened = true;
      this.hidePrompt();
      this.dialog.hidden = false;
      this.dock.hidden = true;
      this.launcher.setAttribute("aria-expanded", "true");
      this.setUnread(0);
      this.report();
      this.onOpen();
    }
    if (focus) this.focusView();
  }

  /** Closes the panel and gives focus back to the launcher. */
  close(): void {
    if (!this.opened) return;
    this.opened = false;
    this.dialog.hidden = true;
    this.dock.hidden = false;
    this.launcher.setAttribute("aria-expanded", "false");
    this.report();
    this.launcher.focus();
    this.onClose();
  }

  /** Shows one view in the panel body; focuses its first control when the panel is open. */
  show(view: HTMLElement, focus = true): void {
    if (this.body.firstElementChild === view) return;
    this.body.replaceChildren(view);
    if (focus && this.opened) this.focusView();
  }

  setTitle(text: string): void {
    this.title.textContent = text;
  }

  setConnection(state: ConnectionState): void {
    const text = state === "connected" ? "" : state === "connecting" ? this.t("status_connecting")
      : state === "reconnecting" ? this.t("status_reconnecting") : this.t("status_offline");
    if (this.status.textContent !== text) this.status.textContent = text;
  }

  setUnread(count: number): void {
    this.unread = this.opened ? 0 : count;
    this.badge.textContent = String(this.unread);
    this.badge.hidden = this.unread === 0;
  }

  addUnread(): void {
    this.setUnread(this.unread + 1);
  }

  showPrompt(spec: PromptSpec): void {
    if (this.opened) return;
    this.hidePrompt();
    const text = h("p", { class: "engage-prompt-text" }, spec.text);
    const accept = h("button", { type: "button", class: "engage-primary" }, this.t("accept"));
    const dismiss = h("button", { type: "button", class: "engage-secondary" }, this.t("no_thanks"));
    const optOut = h("button", { type: "button", class: "engage-link" }, this.t("opt_out"));
    accept.addEventListener("click", () => {
      this.hidePrompt();
      spec.accept();
    });
    dismiss.addEventListener("click", () => {
      this.hidePrompt(true);
      spec.dismiss();
    });
    optOut.addEventListener("click", () => {
      this.hidePrompt(true);
      spec.optOut();
    });
    this.prompt = h("section", { class: "engage-prompt", role: "region", "aria-label": this.t("prompt_label"),
                                 "aria-live": "polite" },
      text, h("div", { class: "engage-actions" }, accept, dismiss), optOut);
    this.dock.prepend(this.prompt);
    this.report();
  }

  hidePrompt(refocus = false): void {
    if (this.prompt === null) return;
    this.prompt.remove();
    this.prompt = null;
    this.report();
    if (refocus) this.launcher.focus();
  }

  get promptShown(): boolean {
    return this.prompt !== null;
  }

  /** Tells the loader how big the iframe must be now. */
  report(): void {
    let layout: Layout;
    if (this.opened) {
      layout = { state: "open", ...OPEN_SIZE };
    } else {
      const rect = this.dock.getBoundingClientRect();
      layout = { state: "launcher", width: Math.ceil(rect.width) + 2 * DOCK_MARGIN_PX,
                 height: Math.ceil(rect.height) + 2 * DOCK_MARGIN_PX };
    }
    const key = `${layout.state}:${layout.width}x${layout.height}`;
    if (key === this.lastLayout) return;
    this.lastLayout = key;
    this.postLayout(layout);
  }

  private focusView(): void {
    const target = this.body.querySelector<HTMLElement>("[data-autofocus]")
      ?? this.body.querySelector<HTMLElement>("input, textarea, button, a[href]");
    (target ?? this.dialog.querySelector<HTMLElement>(".engage-close"))?.focus();
  }
}
