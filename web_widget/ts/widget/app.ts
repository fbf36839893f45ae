/**
 * The widget app: wires the loader channel, the token, the /visitor socket and the views, and
 * holds the contact's phase, moved only as phase.ts allows. One instance per frame; socket
 * pushes and loader messages arrive here.
 */

import { type Ack, CLIENT_CODES, type ConnectionState } from "../../../signaling/client/ack";
import {
  type ContactRequestPayload,
  type ContactStatus,
  type Lang,
  type PageInfo,
  type VisitorPushes,
  guardVisitorPush,
  onVisitorPush,
  visitorCall,
} from "../../../signaling/client/visitor";
import { type Translate, translator } from "../i18n";
import { ChatSession } from "./chat_session";
import { type Socket, connectVisitor } from "./connection";
import { VisitorHttp } from "./http";
import { WidgetShell } from "./panel";
import { type Identity, ParentChannel } from "./parent";
import {
  type HelloStep,
  type Phase,
  afterCancel,
  answerStep,
  helloStep,
  isWaiting,
  mayPrompt,
  move,
  statusStep,
} from "./phase";
import { type PromptDeps, showHelpOffer, showInvite } from "./prompts";
import { PushGate } from "./push_gate";
import { VisitorRequester } from "./requests";
import { MirroredStorage, OpenFlag } from "./storage";
import { VisitorTokens } from "./token";
import { TrailForwarder } from "./trail";
import { type QueueView, endedView, queueView, startView, unavailableView } from "./views";
import { browserStorage } from "../../../signaling/client/dom";

export interface FrameContext {
  root: HTMLElement;
  siteKey: string;
  parentOrigin: string;
  lang: Lang;
  siteName: string;
}

const HELLO_RETRY_MS = 5_000;

export class WidgetApp {
  private readonly t: Translate;
  private readonly parent: ParentChannel;
  private readonly tokens: VisitorTokens;
  private readonly http: VisitorHttp;
  private readonly trail = new TrailForwarder();
  private readonly shell: WidgetShell;
  private readonly mirror = new MirroredStorage((key, value) => this.parent.post("store", { key, value }));
  private readonly openFlag: OpenFlag;
  private readonly local = browserStorage("local") ?? this.mirror;
  private socket: Socket | null = null;
  private page: PageInfo;
  private identityKey = "";
  private queue: string | undefined;
  private optedOut = false;
  private phase: Phase = "idle";
  private interaction: string | null = null;
  private chat: ChatSession | null = null;
  private queueUi: QueueView | null = null;
  private readonly gate = new PushGate(() => this.interaction);
  private readonly requests: VisitorRequester;

  constructor(private readonly ctx: FrameContext) {
    this.t = translator(ctx.lang);
    this.requests = new VisitorRequester(() => this.socket, this.t);
    this.page = { url: document.referrer || ctx.parentOrigin || location.href, title: "", referrer: "" };
    this.openFlag = new OpenFlag(browserStorage("session") ?? this.mirror, ctx.siteKey);
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
      (layout) => this.parent.post("layout", { ...layout }), () => this.opened(), () => this.openFlag.set(false));
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
    const step = helloStep(this.phase, active);
    if (active !== null && active.interaction) {
      await this.restore(active.interaction, step);
      this.chat?.resumeCall();
    } else if (step === "ended") {
      this.showEnded();
    } else if (step === "cancelled") {
      this.showStart(this.t("request_cancelled"));
    }
    const invite = ack.invite === undefined ? null : guardVisitorPush("invite", ack.invite);
    if (invite !== null && this.phase === "idle") this.invite(invite);
  }

  private invite(p: VisitorPushes["invite"]): void {
    const deps = this.prompts();
    if (deps !== null) showInvite(deps, p);
  }

  private async restore(ix: string, step: HelloStep): Promise<void> {
    if (step === "queue") {
      this.showQueue(ix);
      const socket = this.socket;
      if (socket === null) return;
      const status = await visitorCall(socket, "contact.status", { interaction: ix });
      if (status.ok && this.phase === "queued" && this.interaction === ix) this.queueStatus(status);
    } else if (step === "chat") {
      this.showChat(ix, "");
      if (this.openFlag.get()) this.shell.open(false);
    } else {
      this.interaction = ix;
      this.showEnded();
    }
  }

  private listen(socket: Socket): void {
    // A push may overtake the answer that names its interaction: it waits for the answer.
    const on = <E extends keyof VisitorPushes>(name: E, handler: (p: VisitorPushes[E]) => void): void => {
      onVisitorPush(socket, name, (p) => this.gate.route(p, handler));
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
    on("help.offer", (p) => {
      const deps = this.prompts();
      if (deps !== null) showHelpOffer(deps, p);
    });
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
    return this.answered(this.requests.call("contact.request", payload));
  }

  /** Waits for a contact answer while holding back the pushes it may be overtaken by. */
  private answered(pending: Promise<Ack<Partial<ContactStatus>>>): Promise<string | null> {
    return this.gate.answered(pending, (ack) => this.contactAnswer(ack));
  }

  /** The answer to `contact.request` or an accepted invite: queue, chat, or the unavailable view. */
  private contactAnswer(ack: Ack<Partial<ContactStatus>>): string | null {
    if (!ack.ok) {
      if (ack.code === "queue_closed") {
        this.showUnavailable("closed");
        return null;
      }
      return this.requests.errorText(ack);
    }
    if (typeof ack.interaction !== "string") return this.t("error_generic");
    const step = answerStep(this.phase, this.interaction, { interaction: ack.interaction,
                                                            ...(ack.state !== undefined ? { state: ack.state } : {}) });
    if (step === "stale") return null;
    if (step === "chat") {
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
    switch (statusStep(this.phase, this.interaction, status)) {
      case "chat":
        return this.showChat(status.interaction, "");
      case "unavailable":
        return this.showUnavailable("timeout");
      case "recheck":
        return void this.recheck(status.interaction);
      case "queue":
        return this.queueUpdate(status);
      case "ignore":
        return;
    }
  }

  private queueUpdate(status: ContactStatus): void {
    this.showQueue(status.interaction);
    this.queueUi?.update(status.position, status.estimated_wait_seconds,
                         status.state === "offered" ? this.t("queue_offered") : "");
  }

  private async recheck(ix: string): Promise<void> {
    const socket = this.socket;
    if (socket === null) return;
    const status = await visitorCall(socket, "contact.status", { interaction: ix });
    if (!status.ok || ix !== this.interaction || status.state === "connected") return;
    if (isWaiting(status.state)) this.queueUpdate({ ...status, interaction: ix });
  }

  private async cancel(): Promise<string | null> {
    const socket = this.socket;
    const ix = this.interaction;
    if (socket === null || ix === null) return this.t("error_offline");
    const ack = await visitorCall(socket, "contact.cancel", { interaction: ix });
    if (!ack.ok && ack.code !== "not_waiting") return this.requests.errorText(ack);
    if (afterCancel(this.phase) === "idle") this.showStart(this.t("request_cancelled"));
    else this.showEnded();
    return null;
  }

  // -- views -----------------------------------------------------------------------------------
  private showStart(note?: string): void {
    this.phase = move(this.phase, "idle");
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
    this.phase = move(this.phase, "queued");
    this.interaction = ix;
    this.queueUi = queueView(this.t, () => this.cancel());
    this.shell.show(this.queueUi.el);
  }

  private showChat(ix: string, agent: string): void {
    this.phase = move(this.phase, "chat");
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
        token: () => this.tokens.current(),
        onRing: () => this.shell.isOpen || this.shell.addUnread(),
      });
    }
    if (agent) this.chat.setAgent(agent);
    this.shell.show(this.chat.view.el);
    void this.chat.sync();
  }

  private showEnded(): void {
    this.phase = move(this.phase, "ended");
    const ix = this.interaction;
    this.chat?.setAgent("");
    this.dropChat();
    if (ix === null) {
      this.showStart();
      return;
    }
    this.shell.show(endedView(this.t, this.requests.endedHandlers(ix, this.http, () => this.showStart())));
  }

  private showUnavailable(reason: "closed" | "timeout" | "choice"): void {
    if (reason !== "choice") {
      this.phase = move(this.phase, "unavailable");
      this.dropChat();
    }
    this.shell.show(unavailableView(this.t, reason, this.requests.contactHandlers(this.queue)));
  }

  private dropChat(): void {
    this.chat?.dispose();
    this.chat = null;
  }

  // -- proactive ---------------------------------------------------------------------------
  private prompts(): PromptDeps | null {
    if (!mayPrompt(this.phase, this.shell.isOpen, this.optedOut)) return null;
    return {
      shell: this.shell, t: this.t, lang: this.ctx.lang,
      request: (context, queue) => this.request(context, queue),
      respond: (invite, action) => this.requests.call("invite.respond", { invite, action }),
      answered: (pending) => this.answered(pending),
      failed: (error) => this.showStart(error),
      optOut: () => void this.optOut(true),
    };
  }

  private async optOut(value: boolean): Promise<void> {
    const socket = this.socket;
    if (socket === null) return;
    const ack = await visitorCall(socket, "visitor.opt_out", { opted_out: value });
    if (ack.ok) this.optedOut = ack.opted_out === true;
  }

  // -- panel -------------------------------------------------------------------------------
  private opened(): void {
    this.openFlag.set(true);
    this.trail.helpClick(this.page.url);
    this.chat?.acknowledge();
  }
}
