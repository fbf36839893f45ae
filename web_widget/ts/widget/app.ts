/**
 * The widget app: wires the loader channel, the token, the /visitor socket and the views, and
 * owns the contact's phase (idle → queued → chat → ended, or unavailable). One instance per
 * frame; socket pushes and loader messages arrive here.
 */

import {
  type Ack,
  type AckError,
  CLIENT_CODES,
  type ConnectionState,
  errorAck,
} from "../../../signaling/client/ack";
import {
  type ActiveInteraction,
  type ContactRequestPayload,
  type ContactStatus,
  type Lang,
  type PageInfo,
  type VisitorPushes,
  type VisitorRequests,
  guardVisitorPush,
  onVisitorPush,
  visitorCall,
} from "../../../signaling/client/visitor";
import { type Translate, translator } from "../i18n";
import { CallView } from "./call_view";
import { ChatSession } from "./chat_session";
import { type Socket, connectVisitor } from "./connection";
import { VisitorHttp } from "./http";
import { WidgetShell } from "./panel";
import { type Identity, ParentChannel } from "./parent";
import { MirroredStorage } from "./storage";
import { VisitorTokens } from "./token";
import { TrailForwarder } from "./trail";
import { type QueueView, endedView, queueView, startView, unavailableView } from "./views";
import { browserStorage, saveBlob } from "../../../signaling/client/dom";

export interface FrameContext {
  root: HTMLElement;
  siteKey: string;
  parentOrigin: string;
  lang: Lang;
  siteName: string;
}

type Phase = "idle" | "queued" | "chat" | "ended" | "unavailable";
const WAITING = new Set(["new", "queued", "offered", "transferred"]);
const HELP_CLICK_EVERY_MS = 30_000;
const HELLO_RETRY_MS = 5_000;

export class WidgetApp {
  private readonly t: Translate;
  private readonly parent: ParentChannel;
  private readonly tokens: VisitorTokens;
  private readonly http: VisitorHttp;
  private readonly trail = new TrailForwarder();
  private readonly shell: WidgetShell;
  private readonly mirror = new MirroredStorage((key, value) => this.parent.post("store", { key, value }));
  private readonly session_store = browserStorage("session") ?? this.mirror;
  private readonly local = browserStorage("local") ?? this.mirror;
  private socket: Socket | null = null;
  private page: PageInfo;
  private identityKey = "";
  private queue: string | undefined;
  private optedOut = false;
  private phase: Phase = "idle";
  private interaction: string | null = null;
  private chat: ChatSession | null = null;
  private calls: CallView | null = null;
  private queueUi: QueueView | null = null;
  private helpClickAt = 0;
  private requesting = 0; // contact requests (or invite accepts) waiting for their answer
  private early: (() => void)[] = []; // pushes that came before that answer

  constructor(private readonly ctx: FrameContext) {
    this.t = translator(ctx.lang);
    this.page = { url: document.referrer || ctx.parentOrigin || location.href, title: "", referrer: "" };
    this.tokens = new VisitorTokens(ctx.siteKey, this.local);
    this.http = new VisitorHttp(this.tokens);
    this.parent = new ParentChannel(ctx.parentOrigin, {
      hello: (page, identity, state) => {
        this.mirror.seed(state);
        this.tokens.reload();
        this.hello(page, identity);
      },
      events: (events) => this.trail.add(events),
      open: () => this.shell.open(true),
    });
    this.shell = new WidgetShell(ctx.root, this.t, this.t("panel_title"),
      (layout) => this.parent.post("layout", { ...layout }), () => this.opened(), () => this.writeFlag(false));
    this.showStart();
    document.addEventListener("visibilitychange", () => this.chat?.acknowledge());
  }

  start(): void {
    if (this.parent.embedded) this.parent.announceReady();
    else this.hello(this.page, null); // opened on its own (no host page)
  }

  // -- connection --------------------------------------------------------------------------
  private hello(page: PageInfo, identity: Identity | null): void {
    if (page.url) this.page = page;
    const key = identity === null ? "" : identity.customer_id;
    const changed = key !== this.identityKey;
    this.identityKey = key;
    this.tokens.setIdentity(identity);
    if (this.socket === null) {
      this.socket = connectVisitor(this.tokens, { onConnect: () => void this.connected(),
                                                  onState: (s) => this.connection(s) });
      this.trail.attach(this.socket);
      this.listen(this.socket);
    } else if (changed) {
      this.socket.disconnect().connect(); // a new identity: a new token, a new hello
    }
  }

  private connection(state: ConnectionState): void {
    this.shell.setConnection(state);
  }

  private async connected(): Promise<void> {
    const socket = this.socket;
    if (socket === null) return;
    this.trail.hold();
    const ack = await visitorCall(socket, "visit.hello", { page: this.page, lang: this.ctx.lang });
    if (!ack.ok) {
      if (ack.code !== CLIENT_CODES.disconnected) {
        setTimeout(() => {
          if (socket.connected) void this.connected();
        }, HELLO_RETRY_MS);
      }
      return;
    }
    this.parent.post("config", { sensors: ack.config?.sensors ?? {}, visitor_id: ack.visitor_id });
    this.queue = typeof ack.config?.queue === "string" && ack.config.queue ? ack.config.queue : undefined;
    this.optedOut = ack.opted_out === true;
    this.trail.release();
    const active = ack.active ?? null;
    if (active !== null && active.interaction) {
      await this.restore(active);
      this.calls?.resume(); // the conversation's room is joined again: keep a call going
    } else if (this.phase === "queued" || this.phase === "chat") {
      this.phase === "chat" ? this.showEnded() : this.showStart(this.t("request_cancelled"));
    }
    const invite = ack.invite === undefined ? null : guardVisitorPush("invite", ack.invite);
    if (invite !== null && this.phase === "idle") this.invite(invite);
  }

  private async restore(active: ActiveInteraction): Promise<void> {
    if (WAITING.has(active.state)) {
      this.showQueue(active.interaction);
      const socket = this.socket;
      if (socket === null) return;
      const status = await visitorCall(socket, "contact.status", { interaction: active.interaction });
      if (status.ok && this.phase === "queued" && this.interaction === active.interaction) this.queueStatus(status);
    } else if (active.state === "connected") {
      this.showChat(active.interaction, "");
      if (this.readFlag()) this.shell.open(false);
    } else {
      this.interaction = active.interaction;
      this.showEnded();
    }
  }

  private listen(socket: Socket): void {
    // A push may overtake the answer that names its interaction: it waits for the answer.
    const on = <E extends keyof VisitorPushes>(name: E, handler: (p: VisitorPushes[E]) => void): void => {
      onVisitorPush(socket, name, (p) => {
        const ix = (p as { interaction?: string }).interaction;
        if (ix === undefined || ix === this.interaction) handler(p);
        else if (this.requesting > 0 && this.early.length < 50) {
          this.early.push(() => {
            if (ix === this.interaction) handler(p);
          });
        }
      });
    };
    on("queue_status", (p) => this.queueStatus(p));
    on("connected", (p) => this.showChat(p.interaction, p.name));
    on("ended", () => this.showEnded());
    on("agent_lost", () => this.chat?.view.showNotice(this.t("queue_agent_lost")));
    on("timed_out", () => this.showUnavailable("timeout"));
    on("transferred", (p) => {
      this.showQueue(p.interaction);
      this.queueUi?.update(undefined, undefined, this.t("queue_transferred"));
    });
    on("chat.message", (p) => this.chat?.onMessage(p));
    on("chat.typing", (p) => this.chat?.onTyping(p));
    on("chat.receipt", (p) => this.chat?.onReceipt(p));
    on("help.offer", (p) => this.offer(p));
    on("invite", (p) => this.invite(p));
  }

  // -- contact flow ------------------------------------------------------------------------
  private async request(context: Record<string, unknown>, queue?: string): Promise<string | null> {
    const socket = this.socket;
    if (socket === null) return this.t("error_offline");
    const payload: ContactRequestPayload = { channel: "chat",
                                             context: { page: this.page.url, lang: this.ctx.lang, ...context } };
    const target = queue || this.queue;
    if (target) payload.queue = target;
    return this.answered(this.call("contact.request", payload));
  }

  /** Waits for a contact answer while holding back the pushes it may be overtaken by. */
  private async answered(pending: Promise<Ack<Partial<ContactStatus>>>): Promise<string | null> {
    this.requesting += 1;
    let ack: Ack<Partial<ContactStatus>>;
    try {
      ack = await pending;
    } finally {
      this.requesting -= 1;
    }
    const outcome = this.contactAnswer(ack);
    const early = this.early.splice(0);
    for (const replay of early) replay();
    return outcome;
  }

  /** The answer to `contact.request` or an accepted invite: queue, chat, or the unavailable view. */
  private contactAnswer(ack: Ack<Partial<ContactStatus>>): string | null {
    if (!ack.ok) {
      if (ack.code === "queue_closed") {
        this.showUnavailable("closed");
        return null;
      }
      return this.errorText(ack);
    }
    if (typeof ack.interaction !== "string") return this.t("error_generic");
    if (ack.interaction === this.interaction && (this.phase === "chat" || this.phase === "ended")) {
      return null; // a push (connected, ended) overtook this answer: it is the newer news
    }
    if (ack.state === "connected") {
      this.showChat(ack.interaction, "");
    } else {
      this.showQueue(ack.interaction);
      this.queueStatus({ interaction: ack.interaction, state: ack.state ?? "queued",
                         ...(ack.position !== undefined ? { position: ack.position } : {}),
                         ...(ack.estimated_wait_seconds !== undefined
                           ? { estimated_wait_seconds: ack.estimated_wait_seconds } : {}) });
    }
    return null;
  }

  private queueStatus(status: ContactStatus): void {
    if (status.state === "connected") {
      this.showChat(status.interaction, "");
      return;
    }
    if (status.state === "timed_out") {
      this.showUnavailable("timeout");
      return;
    }
    if (!WAITING.has(status.state)) return;
    if (this.phase === "chat" && status.interaction === this.interaction) {
      // Pushes can overtake each other (several publishing connections, several nodes): a
      // waiting status after "connected" may be stale. The server's answer decides.
      void this.recheck(status.interaction);
      return;
    }
    this.showQueue(status.interaction);
    this.queueUi?.update(status.position, status.estimated_wait_seconds,
                         status.state === "offered" ? this.t("queue_offered") : "");
  }

  private async recheck(ix: string): Promise<void> {
    const socket = this.socket;
    if (socket === null) return;
    const status = await visitorCall(socket, "contact.status", { interaction: ix });
    if (!status.ok || ix !== this.interaction || status.state === "connected") return;
    if (WAITING.has(status.state)) {
      this.showQueue(ix);
      this.queueUi?.update(status.position, status.estimated_wait_seconds,
                           status.state === "offered" ? this.t("queue_offered") : "");
    }
  }

  private async cancel(): Promise<string | null> {
    const socket = this.socket;
    const ix = this.interaction;
    if (socket === null || ix === null) return this.t("error_offline");
    const ack = await visitorCall(socket, "contact.cancel", { interaction: ix });
    if (!ack.ok && ack.code !== "not_waiting") return this.errorText(ack);
    if (this.phase === "queued") this.showStart(this.t("request_cancelled"));
    else this.showEnded();
    return null;
  }

  private errorText(ack: AckError): string {
    if (ack.code === "rate_limited") return this.t("error_rate_limited");
    if (ack.code === CLIENT_CODES.timeout || ack.code === CLIENT_CODES.disconnected
        || ack.code === CLIENT_CODES.network) return this.t("error_offline");
    return this.t("error_generic");
  }

  // -- views -----------------------------------------------------------------------------------
  private showStart(note?: string): void {
    this.phase = "idle";
    this.dropChat();
    this.interaction = null;
    this.queueUi = null;
    const view = startView(this.t, {
      start: (name) => this.request({ name }),
      leaveMessage: () => this.showUnavailable("choice"),
      optOut: (value) => void this.optOut(value),
    }, this.optedOut);
    if (note) view.prepend(Object.assign(document.createElement("p"), { className: "engage-status", textContent: note }));
    this.shell.setTitle(this.t("panel_title"));
    this.shell.show(view);
  }

  private showQueue(ix: string): void {
    if (this.phase === "queued" && this.interaction === ix && this.queueUi !== null) return;
    this.phase = "queued";
    this.interaction = ix;
    this.queueUi = queueView(this.t, () => this.cancel());
    this.shell.show(this.queueUi.el);
  }

  private showChat(ix: string, agent: string): void {
    this.phase = "chat";
    this.interaction = ix;
    this.queueUi = null;
    if (this.chat === null || this.chat.interaction !== ix) {
      this.dropChat();
      this.chat = new ChatSession(ix, {
        socket: () => this.socket, storage: this.local, http: this.http, t: this.t,
        seen: () => this.shell.isOpen && document.visibilityState === "visible",
        onAgentMessage: () => {
          if (!this.shell.isOpen) this.shell.addUnread();
        },
        end: () => void this.cancel(),
      });
      this.calls = this.socket === null ? null : new CallView({ t: this.t, socket: this.socket, interaction: ix,
        token: () => this.tokens.current(), onRing: () => this.shell.isOpen || this.shell.addUnread() });
      this.calls?.mount(this.chat.view.el);
    }
    if (agent) this.chat.setAgent(agent);
    this.shell.show(this.chat.view.el);
    void this.chat.sync();
  }

  private showEnded(): void {
    this.phase = "ended";
    const ix = this.interaction;
    this.chat?.setAgent("");
    this.dropChat();
    if (ix === null) {
      this.showStart();
      return;
    }
    this.shell.show(endedView(this.t, {
      rate: (score, comment) => this.simple(this.call("chat.rate", { interaction: ix, score, comment })),
      email: (email) => this.simple(this.call("chat.transcript", { interaction: ix, email })),
      download: async () => {
        const blob = await this.http.transcript(ix);
        if (blob === null) return this.t("error_generic");
        saveBlob(blob, `transcript-${ix}.txt`);
        return null;
      },
      restart: () => this.showStart(),
    }));
  }

  private showUnavailable(reason: "closed" | "timeout" | "choice"): void {
    if (reason !== "choice") {
      this.phase = "unavailable";
      this.dropChat();
    }
    const queue = this.queue;
    this.shell.show(unavailableView(this.t, reason, {
      message: (p) => this.simple(this.call("contact.message", {
        name: p.name, text: p.text, ...(p.email ? { email: p.email } : {}), ...(p.phone ? { phone: p.phone } : {}),
        ...(queue ? { queue } : {}) })),
      callback: (p) => this.simple(this.call("contact.callback", {
        name: p.name, phone: p.phone, ...(queue ? { queue } : {}) })),
    }));
  }

  private dropChat(): void {
    this.calls?.dispose();
    this.calls = null;
    this.chat?.dispose();
    this.chat = null;
  }

  // -- proactive ---------------------------------------------------------------------------
  private offer(p: VisitorPushes["help.offer"]): void {
    if (this.phase !== "idle" || this.shell.isOpen || this.optedOut) return;
    this.shell.showPrompt({
      text: p.text || this.t("offer_text"),
      accept: () => {
        this.shell.open(true);
        void this.request({ reason: "struggle", offer: p.offer }, p.queue);
      },
      dismiss: () => undefined,
      optOut: () => void this.optOut(true),
    });
  }

  private invite(p: VisitorPushes["invite"]): void {
    if (this.phase !== "idle" || this.shell.isOpen || this.optedOut) return;
    const text = typeof p.text === "string" ? p.text : p.text[this.ctx.lang] ?? p.text["en"] ?? "";
    const respond = (action: "accept" | "dismiss") => this.call("invite.respond", { invite: p.invite, action });
    this.shell.showPrompt({
      text: text || this.t("invite_text"),
      accept: () => {
        this.shell.open(true);
        void this.answered(respond("accept")).then((error) => {
          if (error !== null) this.showStart(error);
        });
      },
      dismiss: () => void respond("dismiss"),
      optOut: () => void this.optOut(true),
    });
  }

  private async optOut(value: boolean): Promise<void> {
    const socket = this.socket;
    if (socket === null) return;
    const ack = await visitorCall(socket, "visitor.opt_out", { opted_out: value });
    if (ack.ok) this.optedOut = ack.opted_out === true;
  }

  // -- panel -------------------------------------------------------------------------------
  private opened(): void {
    this.writeFlag(true);
    const now = Date.now();
    if (now - this.helpClickAt >= HELP_CLICK_EVERY_MS) {
      this.helpClickAt = now;
      this.trail.add([{ type: "signal", kind: "help_click", at: now, url: this.page.url }]);
    }
    this.chat?.acknowledge();
  }

  private readFlag(): boolean {
    try {
      return this.session_store?.getItem(`engage.open.${this.ctx.siteKey}`) === "1";
    } catch {
      return false;
    }
  }

  private writeFlag(open: boolean): void {
    try {
      if (open) this.session_store?.setItem(`engage.open.${this.ctx.siteKey}`, "1");
      else this.session_store?.removeItem(`engage.open.${this.ctx.siteKey}`);
    } catch {
      // storage blocked
    }
  }

  /** A request on the socket; before there is one, a `disconnected` error. */
  private call<E extends keyof VisitorRequests>(event: E, payload: VisitorRequests[E]["payload"]
  ): Promise<Ack<VisitorRequests[E]["reply"]>> {
    if (this.socket === null) {
      return Promise.resolve(errorAck(CLIENT_CODES.disconnected, "not connected yet"));
    }
    return visitorCall(this.socket, event, payload);
  }

  private async simple(pending: Promise<Ack<object>>): Promise<string | null> {
    const ack = await pending;
    return ack.ok ? null : this.errorText(ack);
  }
}
