/**
 * The widget's contact phase machine, pure: the phases (idle → queued → chat → ended, or
 * unavailable), the moves allowed between them, and what each server answer or push means
 * in a given phase. WidgetApp (app.ts) asks here and shows the view; node tests pin it.
 */

export type Phase = "idle" | "queued" | "chat" | "ended" | "unavailable";

/** Interaction states in which the visitor is still waiting for an agent. */
export const WAITING_STATES: ReadonlySet<string> = new Set(["new", "queued", "offered", "transferred"]);

export function isWaiting(state: string): boolean {
  return WAITING_STATES.has(state);
}

/**
 * Where each phase may go. Every phase may restart its own view (a new queue position, a
 * fresh start form); a chat never goes back to the start form without ending first.
 */
export const MOVES: Readonly<Record<Phase, readonly Phase[]>> = {
  idle: ["idle", "queued", "chat", "ended", "unavailable"],
  queued: ["idle", "queued", "chat", "ended", "unavailable"],
  chat: ["queued", "chat", "ended", "unavailable"],
  ended: ["idle", "queued", "chat", "ended", "unavailable"],
  unavailable: ["idle", "queued", "chat", "ended", "unavailable"],
};

export function canMove(from: Phase, to: Phase): boolean {
  return MOVES[from].includes(to);
}

/** The phase after a move: `to`, or `from` (and a console error) when the move is not allowed. */
export function move(from: Phase, to: Phase): Phase {
  if (canMove(from, to)) return to;
  console.error(`engage: the widget cannot go from ${from} to ${to}`);
  return from;
}

/** What a queue status (push, `contact.status` or answer) asks for. */
export type StatusStep = "chat" | "unavailable" | "recheck" | "queue" | "ignore";

export function statusStep(phase: Phase, current: string | null,
                           status: { interaction: string; state: string }): StatusStep {
  if (status.state === "connected") return "chat";
  if (status.state === "timed_out") return "unavailable";
  if (!isWaiting(status.state)) return "ignore";
  // Pushes can overtake each other (several publishing connections, several nodes): a waiting
  // status after "connected" may be stale. The server's answer decides.
  if (phase === "chat" && status.interaction === current) return "recheck";
  return "queue";
}

/** What `visit.hello`'s answer means: the active interaction it names, or none. */
export type HelloStep = "queue" | "chat" | "ended" | "cancelled" | "stay";

export function helloStep(phase: Phase, active: { interaction: string; state: string } | null): HelloStep {
  if (active !== null && active.interaction) {
    if (isWaiting(active.state)) return "queue";
    return active.state === "connected" ? "chat" : "ended";
  }
  if (phase === "chat") return "ended";
  if (phase === "queued") return "cancelled";
  return "stay";
}

/** What the answer to `contact.request` (or an accepted invite) means. */
export type AnswerStep = "stale" | "chat" | "queue";

export function answerStep(phase: Phase, current: string | null,
                           answer: { interaction: string; state?: string }): AnswerStep {
  // A push (connected, ended) overtook this answer: it is the newer news.
  if (answer.interaction === current && (phase === "chat" || phase === "ended")) return "stale";
  return answer.state === "connected" ? "chat" : "queue";
}

/** After `contact.cancel`: back to the start form while waiting, else the end of the chat. */
export function afterCancel(phase: Phase): "idle" | "ended" {
  return phase === "queued" ? "idle" : "ended";
}

/** Whether a help offer or invitation may be shown now. */
export function mayPrompt(phase: Phase, panelOpen: boolean, optedOut: boolean): boolean {
  return phase === "idle" && !panelOpen && !optedOut;
}
