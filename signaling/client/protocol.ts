/**
 * The client side of engage's Socket.IO contract (mirrors signaling/schemas.py): namespaces,
 * event names and payloads, typed request/ack calls, and staff connections that fetch a fresh
 * one-use token on every (re)connect.
 */

import { io, type Socket } from "socket.io-client";

import {
  type Ack,
  type AckError,
  CLIENT_CODES,
  type ConnectionState,
  DEFAULT_TIMEOUT_MS,
  afterRefusal,
  callWithAck,
  errorAck,
  normalizeAck,
  stateAfterDisconnect,
} from "./ack";

import type { Announce, Echo, Empty } from "./payloads.gen";

export * from "./ack";
export type { Socket };

export const NAMESPACES = {
  agent: "/agent",
  supervisor: "/supervisor",
  visitor: "/visitor",
} as const;

export type StaffNamespace = typeof NAMESPACES.agent | typeof NAMESPACES.supervisor;

/** Events a client sends; each one is answered with an ack. */
export const EVENTS = {
  ping: "ping",
  whoami: "whoami",
  announce: "announce",
} as const;

/** Events the server sends. */
export const SERVER_EVENTS = {
  announcement: "announcement",
  sessionEnded: "session_ended",
  error: "engage:error",
} as const;

export type AnnouncementLevel = "info" | "warning" | "urgent";
export const ANNOUNCEMENT_LEVELS: readonly AnnouncementLevel[] = ["info", "warning", "urgent"];
export const ANNOUNCEMENT_MAX_CHARS = 2000;

export interface Announcement {
  text: string;
  level: AnnouncementLevel;
  from: string;
  at: number;
}

/** Payload and ack fields of each client event. */
export interface Requests {
  ping: { payload: Echo; reply: { text: string; server_time: number; node: string } };
  whoami: {
    payload: Empty;
    reply: { username?: string; role?: string; node?: string; visitor_id?: string; site_key?: string };
  };
  announce: { payload: Announce & { level: AnnouncementLevel }; reply: { delivered: boolean } };
}

/** Payload of each server event. */
export interface Pushes {
  announcement: Announcement;
  session_ended: { reason: string };
  "engage:error": AckError;
}

/** One request with a typed payload; resolves to the ack (never rejects). */
export function call<E extends keyof Requests>(
  socket: Socket, event: E, payload: Requests[E]["payload"],
  timeoutMs: number = DEFAULT_TIMEOUT_MS,
): Promise<Ack<Requests[E]["reply"]>> {
  return callWithAck<Requests[E]["reply"]>(socket, event, payload, timeoutMs);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Shape checks of server events: a malformed push is dropped, never half-rendered. */
const PUSH_GUARDS: { [E in keyof Pushes]: (raw: unknown) => Pushes[E] | null } = {
  announcement: (raw) => {
    if (!isRecord(raw) || typeof raw["text"] !== "string") return null;
    const level = ANNOUNCEMENT_LEVELS.find((l) => l === raw["level"]) ?? "info";
    return {
      text: raw["text"], level,
      from: typeof raw["from"] === "string" ? raw["from"] : "",
      at: typeof raw["at"] === "number" ? raw["at"] : Date.now() / 1000,
    };
  },
  session_ended: (raw) => ({
    reason: isRecord(raw) && typeof raw["reason"] === "string" ? raw["reason"] : "",
  }),
  "engage:error": (raw) => {
    const ack = normalizeAck(raw);
    return ack.ok ? null : ack;
  },
};

/** Listens for one server event; the handler gets a checked payload and cannot throw out. */
export function onPush<E extends keyof Pushes>(socket: Socket, event: E,
                                               handler: (payload: Pushes[E]) => void): void {
  const guard = PUSH_GUARDS[event];
  socket.on(event as string, (raw: unknown) => {
    const payload = guard(raw);
    if (payload === null) return;
    try {
      handler(payload as Pushes[E]);
    } catch (err) {
      console.error(`engage: ${event} handler failed`, err);
    }
  });
}

// -- staff connections ----------------------------------------------------------------

export interface SocketToken {
  token: string;
  expires_in: number;
}

/** A one-use socket token from the signed-in HTTP session. */
export async function fetchSocketToken(): Promise<Ack<SocketToken>> {
  try {
    const response = await fetch("/api/socket-token", {
      method: "POST", credentials: "same-origin", headers: { Accept: "application/json" },
    });
    const body: unknown = await response.json().catch(() => null);
    return normalizeAck<SocketToken>(body);
  } catch {
    return errorAck(CLIENT_CODES.network, "could not reach the server");
  }
}

export interface ConnectionHooks {
  /** Every state change, with the reason when there is one. */
  onState?: (state: ConnectionState, detail?: string) => void;
  /** The HTTP session is gone: the page should send the user to sign in. */
  onSignedOut?: () => void;
}

type RefusalError = Error & { data?: { code?: string } };

/**
 * Connects a staff namespace over WebSocket. The auth callback runs on every attempt, so each
 * reconnect redeems a fresh one-use token. Transport failures are retried by socket.io-client;
 * server refusals (which it never retries) are retried here with backoff unless final.
 */
export function connectStaff(namespace: StaffNamespace, hooks: ConnectionHooks = {}): Socket {
  let refusals = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  const report = (state: ConnectionState, detail?: string): void => {
    try {
      hooks.onState?.(state, detail);
    } catch (err) {
      console.error("engage: connection state handler failed", err);
    }
  };
  const signedOut = (): void => {
    try {
      hooks.onSignedOut?.();
    } catch (err) {
      console.error("engage: sign-out handler failed", err);
    }
  };

  const socket = io(namespace, {
    transports: ["websocket"],
    reconnectionDelay: 1_000,
    reconnectionDelayMax: 10_000,
    auth: (cb) => {
      void fetchSocketToken().then((ack) => {
        if (ack.ok) {
          cb({ token: ack.token });
          return;
        }
        if (ack.code === "unauthenticated") signedOut();
        cb({}); // refused by the server, then retried by the connect_error handler below
      });
    },
  });

  report("connecting");
  socket.on("connect", () => {
    refusals = 0;
    report("connected");
  });
  socket.on("disconnect", (reason) => {
    report(stateAfterDisconnect(reason), reason);
  });
  socket.on("connect_error", (err: RefusalError) => {
    if (socket.active) {
      report("reconnecting", err.message); // a transport failure: the manager retries
      return;
    }
    const next = afterRefusal(err.data?.code, refusals, Math.random());
    refusals += 1;
    if (next.action === "stop") {
      report("disconnected", err.message);
      return;
    }
    report("reconnecting", err.message);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => socket.connect(), next.delayMs);
  });
  return socket;
}
