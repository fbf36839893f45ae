/**
 * The /visitor socket: WebSocket only, the token read by an auth callback on every attempt (so
 * reconnects use the latest one); refused connections are retried with backoff after a token
 * refresh when the refusal was about the token.
 */

import { io, type Socket } from "socket.io-client";

import { type ConnectionState, afterRefusal, stateAfterDisconnect } from "../../../signaling/client/ack";
import type { VisitorTokens } from "./token";

export type { Socket };

export interface ConnectionHooks {
  onConnect(): void;
  onState(state: ConnectionState): void;
}

const TOKEN_REFUSALS = new Set(["unauthenticated", "invalid_token", "token_expired", "not_authenticated"]);

type RefusalError = Error & { data?: { code?: string } };

export function connectVisitor(tokens: VisitorTokens, hooks: ConnectionHooks): Socket {
  let refusals = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  const report = (state: ConnectionState): void => {
    try {
      hooks.onState(state);
    } catch (err) {
      console.error("engage: connection state handler failed", err);
    }
  };

  const socket = io(`${window.location.origin}/visitor`, {
    transports: ["websocket"],
    reconnectionDelay: 1_000,
    reconnectionDelayMax: 10_000,
    autoConnect: false,
    auth: (cb) => {
      void tokens.current().then((token) => cb(token === null ? {} : { token }));
    },
  });

  socket.on("connect", () => {
    refusals = 0;
    report("connected");
    try {
      hooks.onConnect();
    } catch (err) {
      console.error("engage: connect handler failed", err);
    }
  });
  socket.on("disconnect", (reason) => report(stateAfterDisconnect(reason)));
  socket.on("connect_error", (err: RefusalError) => {
    if (socket.active) {
      report("reconnecting"); // a transport failure: socket.io-client retries by itself
      return;
    }
    const code = err.data?.code;
    if (code !== undefined && TOKEN_REFUSALS.has(code)) tokens.invalidate();
    const next = afterRefusal(code, refusals, Math.random());
    refusals += 1;
    if (next.action === "stop") {
      report("disconnected");
      return;
    }
    report("reconnecting");
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => socket.connect(), next.delayMs);
  });
  report("connecting");
  socket.connect();
  return socket;
}
