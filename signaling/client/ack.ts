/**
 * Pure helpers of the client protocol: ack shapes, the request/ack round trip over any
 * emitter, and the reconnect policy. No DOM, no socket.io-client import: unit-tested in node.
 */

/** A successful ack: `{ok: true, ...fields}`. */
export type AckOk<T extends object = Record<never, never>> = { ok: true } & T;

/** A refused or failed request; `code` is stable and safe to branch on. */
export interface AckError {
  ok: false;
  code: string;
  message: string;
  retry_after?: number;
}

export type Ack<T extends object = Record<never, never>> = AckOk<T> | AckError;

/** Codes the client makes itself (the server's codes come from engage/errors.py). */
export const CLIENT_CODES = {
  timeout: "timeout",
  disconnected: "disconnected",
  badAck: "bad_ack",
  network: "network",
} as const;

export const DEFAULT_TIMEOUT_MS = 10_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What a timed-out request resolves to (never a rejection). */
export function timeoutAck(event: string, timeoutMs: number): AckError {
  return { ok: false, code: CLIENT_CODES.timeout, message: `no answer to ${event} within ${timeoutMs} ms` };
}

/**
 * Checks the shape of whatever came back: `{ok: true, ...}` passes through, an error keeps
 * its code and message, anything else becomes a `bad_ack` error.
 */
export function normalizeAck<T extends object>(raw: unknown): Ack<T> {
  if (isRecord(raw) && raw["ok"] === true) {
    return raw as AckOk<T>;
  }
  if (isRecord(raw) && raw["ok"] === false && typeof raw["code"] === "string") {
    const error: AckError = {
      ok: false,
      code: raw["code"],
      message: typeof raw["message"] === "string" ? raw["message"] : raw["code"],
    };
    if (typeof raw["retry_after"] === "number") {
      error.retry_after = raw["retry_after"];
    }
    return error;
  }
  return { ok: false, code: CLIENT_CODES.badAck, message: "the server's answer was not an ack" };
}

/** The slice of a socket.io-client `Socket` that `call` needs (so tests can fake it). */
export interface AckEmitter {
  timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
}

/** socket.io-client rejects pending acks with this message when the connection drops. */
const DISCONNECTED_MESSAGE = "socket has been disconnected";

/**
 * Sends one event and waits for its ack. Always resolves: no answer in time (also while the
 * event waits in the send buffer of a disconnected socket) gives `{ok: false, code: 'timeout'}`,
 * a connection lost while waiting gives `code: 'disconnected'`.
 */
export async function callWithAck<T extends object>(
  socket: AckEmitter, event: string, payload: object,
  timeoutMs: number = DEFAULT_TIMEOUT_MS,
): Promise<Ack<T>> {
  let raw: unknown;
  try {
    raw = await socket.timeout(timeoutMs).emitWithAck(event, payload);
  } catch (err) {
    if (err instanceof Error && err.message === DISCONNECTED_MESSAGE) {
      return errorAck(CLIENT_CODES.disconnected, `the connection dropped before ${event} was answered`);
    }
    return timeoutAck(event, timeoutMs);
  }
  return normalizeAck<T>(raw);
}

/** The error of a failed HTTP call or a refused socket connection, as an ack. */
export function errorAck(code: string, message: string): AckError {
  return { ok: false, code, message };
}

// -- connection state -----------------------------------------------------------------

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

/** The exact text shown in the page's `#connection` status. */
export const CONNECTION_LABELS: Readonly<Record<ConnectionState, string>> = {
  connecting: "connecting…",
  connected: "connected",
  reconnecting: "reconnecting…",
  disconnected: "disconnected",
};

/** Disconnect reasons after which socket.io-client does not reconnect by itself. */
const FINAL_DISCONNECTS = new Set(["io server disconnect", "io client disconnect"]);

export function stateAfterDisconnect(reason: string): ConnectionState {
  return FINAL_DISCONNECTS.has(reason) ? "disconnected" : "reconnecting";
}

/** Server refusal codes that retrying cannot fix. */
const FINAL_REFUSALS = new Set(["forbidden", "origin_not_allowed"]);

export const RETRY_BASE_MS = 1_000;
export const RETRY_MAX_MS = 30_000;

export type RefusalAction = { action: "stop" } | { action: "retry"; delayMs: number };

/**
 * What to do after the server refused a connection (socket.io-client never retries those
 * itself): stop for role/origin refusals, else retry with capped exponential backoff.
 * `attempt` counts refusals in a row from 0; `jitter` in [0, 1) spreads reconnect storms.
 */
export function afterRefusal(code: string | undefined, attempt: number, jitter = 0): RefusalAction {
  if (code !== undefined && FINAL_REFUSALS.has(code)) {
    return { action: "stop" };
  }
  const exp = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, Math.min(attempt, 15)));
  const delayMs = Math.round(exp / 2 + (exp / 2) * Math.min(Math.max(jitter, 0), 1));
  return { action: "retry", delayMs };
}
