// Unit tests of signaling/client/ack.ts: the pure half of the client protocol.
// The module is bundled in memory with esbuild, so these run with or without `npm run build`.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

import { build } from "esbuild";

const entry = fileURLToPath(new URL("../../signaling/client/ack.ts", import.meta.url));
const bundled = await build({ entryPoints: [entry], bundle: true, format: "esm", target: "es2020",
                              platform: "neutral", write: false });
const source = bundled.outputFiles[0].text;
const ack = await import(`data:text/javascript;base64,${Buffer.from(source).toString("base64")}`);

/** A stand-in for socket.io-client's Socket: `timeout(ms).emitWithAck(event, payload)`. */
function fakeSocket(answer) {
  const sent = [];
  return {
    sent,
    timeout(ms) {
      return {
        emitWithAck(event, ...args) {
          sent.push({ ms, event, args });
          return answer(event, ...args);
        },
      };
    },
  };
}

describe("normalizeAck", () => {
  it("passes a success through with its fields", () => {
    assert.deepEqual(ack.normalizeAck({ ok: true, text: "hi", node: "n1" }),
                     { ok: true, text: "hi", node: "n1" });
  });

  it("keeps code, message and retry_after of an error", () => {
    assert.deepEqual(
      ack.normalizeAck({ ok: false, code: "rate_limited", message: "slow down", retry_after: 0.5 }),
      { ok: false, code: "rate_limited", message: "slow down", retry_after: 0.5 });
  });

  it("uses the code as message when the message is missing", () => {
    assert.deepEqual(ack.normalizeAck({ ok: false, code: "forbidden" }),
                     { ok: false, code: "forbidden", message: "forbidden" });
  });

  for (const raw of [null, undefined, "ok", 42, [], { ok: "true" }, { ok: false }]) {
    it(`turns ${JSON.stringify(raw)} into bad_ack`, () => {
      const result = ack.normalizeAck(raw);
      assert.equal(result.ok, false);
      assert.equal(result.code, "bad_ack");
    });
  }
});

describe("callWithAck", () => {
  it("sends the event and payload with the timeout, resolves to the ack", async () => {
    const socket = fakeSocket(async (event, payload) => ({ ok: true, text: payload.text }));
    const result = await ack.callWithAck(socket, "ping", { text: "hello" }, 1234);
    assert.deepEqual(result, { ok: true, text: "hello" });
    assert.deepEqual(socket.sent, [{ ms: 1234, event: "ping", args: [{ text: "hello" }] }]);
  });

  it("uses the default timeout when none is given", async () => {
    const socket = fakeSocket(async () => ({ ok: true }));
    await ack.callWithAck(socket, "whoami", {});
    assert.equal(socket.sent[0].ms, ack.DEFAULT_TIMEOUT_MS);
  });

  it("resolves a refusal to the server's error", async () => {
    const socket = fakeSocket(async () => ({ ok: false, code: "forbidden", message: "no" }));
    assert.deepEqual(await ack.callWithAck(socket, "announce", { text: "x" }),
                     { ok: false, code: "forbidden", message: "no" });
  });

  it("resolves a timeout to {ok: false, code: 'timeout'}", async () => {
    const socket = fakeSocket(() => Promise.reject(new Error("operation has timed out")));
    const result = await ack.callWithAck(socket, "ping", {}, 50);
    assert.equal(result.ok, false);
    assert.equal(result.code, "timeout");
    assert.match(result.message, /ping.*50 ms/);
  });

  it("resolves a dropped connection to code 'disconnected'", async () => {
    const socket = fakeSocket(() => Promise.reject(new Error("socket has been disconnected")));
    const result = await ack.callWithAck(socket, "ping", {}, 50);
    assert.equal(result.code, "disconnected");
  });

  it("resolves a malformed answer to bad_ack", async () => {
    const socket = fakeSocket(async () => "pong");
    assert.equal((await ack.callWithAck(socket, "ping", {})).code, "bad_ack");
  });
});

describe("connection state", () => {
  it("has the exact labels the pages show", () => {
    assert.deepEqual(ack.CONNECTION_LABELS, {
      connecting: "connecting…", connected: "connected",
      reconnecting: "reconnecting…", disconnected: "disconnected",
    });
  });

  it("is final after a server or client disconnect, else reconnecting", () => {
    assert.equal(ack.stateAfterDisconnect("io server disconnect"), "disconnected");
    assert.equal(ack.stateAfterDisconnect("io client disconnect"), "disconnected");
    assert.equal(ack.stateAfterDisconnect("transport close"), "reconnecting");
    assert.equal(ack.stateAfterDisconnect("ping timeout"), "reconnecting");
  });
});

describe("afterRefusal", () => {
  it("stops when the role or origin is refused", () => {
    assert.deepEqual(ack.afterRefusal("forbidden", 0), { action: "stop" });
    assert.deepEqual(ack.afterRefusal("origin_not_allowed", 3), { action: "stop" });
  });

  it("retries other refusals with exponential backoff", () => {
    const delays = [0, 1, 2, 3].map((n) => ack.afterRefusal("unauthenticated", n, 1).delayMs);
    assert.deepEqual(delays, [1000, 2000, 4000, 8000]);
    assert.equal(ack.afterRefusal(undefined, 0, 1).action, "retry");
  });

  it("caps the delay, and jitter keeps it within [half, full]", () => {
    assert.equal(ack.afterRefusal("unauthenticated", 50, 1).delayMs, ack.RETRY_MAX_MS);
    assert.equal(ack.afterRefusal("unauthenticated", 50, 0).delayMs, ack.RETRY_MAX_MS / 2);
    for (const jitter of [-1, 0, 0.3, 0.99, 7]) {
      const { delayMs } = ack.afterRefusal("internal", 2, jitter);
      assert.ok(delayMs >= 2000 && delayMs <= 4000, `jitter ${jitter} gave ${delayMs}`);
    }
  });
});

describe("timeoutAck / errorAck", () => {
  it("build errors in the ack shape", () => {
    assert.deepEqual(ack.errorAck("network", "offline"), { ok: false, code: "network", message: "offline" });
    assert.deepEqual(ack.timeoutAck("announce", 10),
                     { ok: false, code: "timeout", message: "no answer to announce within 10 ms" });
  });
});
