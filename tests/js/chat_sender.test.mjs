// Unit tests of the shared sending of chat messages (signaling/client/chat_sender.ts): acks,
// timeouts kept for the next connect, rate limits retried, refusals marked failed, no double
// send while in flight, and the typing throttle. Real ChatLog and Outbox, a fake transport.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, it, mock } from "node:test";

import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bundled = await build({
  stdin: {
    contents: ['export * from "./signaling/client/chat_sender";',
               'export * from "./signaling/client/chat_log";',
               'export * from "./signaling/client/outbox";'].join("\n"),
    resolveDir: root, loader: "ts",
  },
  bundle: true, format: "esm", target: "es2020", platform: "neutral", write: false,
});
const m = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);

const IX = "ix0000000001";
const NOW = 1_700_000_000_000;

/** A Map-backed localStorage. */
function memoryStorage() {
  const data = new Map();
  return { data, getItem: (k) => (data.has(k) ? data.get(k) : null), setItem: (k, v) => data.set(k, String(v)),
           removeItem: (k) => data.delete(k) };
}

/** Lets awaited acks settle (setImmediate is not mocked). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A sender over a fake transport: every `send` is recorded with a way to answer it;
 * `connected = false` makes `send` return null (kept for the next connect).
 */
function harness({ storage = memoryStorage() } = {}) {
  const log = new m.ChatLog("visitor");
  const outbox = new m.Outbox(storage, IX);
  const calls = [];
  const events = [];
  const state = { connected: true };
  const sender = new m.ChatSender(log, outbox, {
    send: (pending) => {
      if (!state.connected) return null;
      let answer;
      const promise = new Promise((resolve) => { answer = resolve; });
      calls.push({ pending, answer });
      return promise;
    },
    onChange: () => events.push("change"),
    onGap: () => events.push("gap"),
    onFailed: (pending) => events.push(`failed:${pending.client_id}`),
  });
  return { log, outbox, sender, calls, events, state, storage };
}

const pending = (id, text = `text ${id}`) => ({ client_id: id, text, at: NOW });
const deliveries = (log) => log.entries().map((e) => log.delivery(e));

describe("ChatSender", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: NOW }));
  afterEach(() => mock.timers.reset());

  it("shows a new message as sending, then sent once acked (outbox emptied)", async () => {
    const h = harness();
    h.sender.submit(pending("a"));
    assert.deepEqual(h.outbox.list().map((p) => p.client_id), ["a"]);
    assert.deepEqual(deliveries(h.log), ["sending"]);
    assert.deepEqual(h.events, ["change"]);
    assert.equal(h.calls.length, 1);
    h.calls[0].answer({ ok: true, seq: 1, at: 1_700_000_001, duplicate: false });
    await settle();
    assert.deepEqual(h.outbox.list(), []);
    assert.equal(h.storage.data.size, 0, "nothing left in storage");
    assert.deepEqual(deliveries(h.log), ["sent"]);
    assert.equal(h.log.lastSeq, 1);
    assert.deepEqual(h.events, ["change", "change"], "no sync without a gap");
  });

  it("asks for a sync when the ack shows a gap", async () => {
    const h = harness();
    h.sender.submit(pending("a"));
    h.calls[0].answer({ ok: true, seq: 3, at: 1_700_000_001 });
    await settle();
    assert.equal(h.log.hasGap, true);
    assert.deepEqual(h.events, ["change", "change", "gap"]);
  });

  it("puts what the outbox kept across a reload back as sending, and resends it", async () => {
    const storage = memoryStorage();
    new m.Outbox(storage, IX).add(pending("kept", "typed before the reload"));
    const h = harness({ storage });
    assert.deepEqual(h.log.entries().map((e) => e.text), ["typed before the reload"]);
    assert.deepEqual(deliveries(h.log), ["sending"]);
    assert.equal(h.calls.length, 0, "nothing sent before the first sync");
    h.sender.resend();
    assert.deepEqual(h.calls.map((c) => c.pending.client_id), ["kept"]);
  });

  for (const code of ["timeout", "disconnected"]) {
    it(`keeps a message for the next connect after ${code} (same client_id, no timer)`, async () => {
      const h = harness();
      h.sender.submit(pending("a"));
      h.calls[0].answer({ ok: false, code, message: code });
      await settle();
      mock.timers.tick(60_000);
      await settle();
      assert.equal(h.calls.length, 1, "not retried by itself");
      assert.deepEqual(h.outbox.list().map((p) => p.client_id), ["a"]);
      assert.deepEqual(deliveries(h.log), ["sending"]);
      assert.deepEqual(h.events, ["change"]);
      h.sender.resend();
      assert.deepEqual(h.calls.map((c) => c.pending.client_id), ["a", "a"]);
    });
  }

  it("keeps a message written while disconnected for the next connect", () => {
    const h = harness();
    h.state.connected = false;
    h.sender.submit(pending("a"));
    assert.equal(h.calls.length, 0);
    assert.deepEqual(deliveries(h.log), ["sending"]);
    h.state.connected = true;
    h.sender.resend();
    assert.equal(h.calls.length, 1);
  });

  it("retries a rate-limited message after retry_after", async () => {
    const h = harness();
    h.sender.submit(pending("a"));
    h.calls[0].answer({ ok: false, code: "rate_limited", message: "slow down", retry_after: 5 });
    await settle();
    mock.timers.tick(4_999);
    assert.equal(h.calls.length, 1);
    mock.timers.tick(1);
    assert.equal(h.calls.length, 2);
    assert.equal(h.calls[1].pending.client_id, "a");
    h.calls[1].answer({ ok: true, seq: 1, at: 1_700_000_001 });
    await settle();
    assert.deepEqual(deliveries(h.log), ["sent"]);
    assert.deepEqual(h.outbox.list(), []);
  });

  it("retries a rate-limited message after 2 s without retry_after, and never sooner than 1 s", async () => {
    const h = harness();
    h.sender.submit(pending("a"));
    h.sender.submit(pending("b"));
    h.calls[0].answer({ ok: false, code: "rate_limited", message: "slow down" });
    h.calls[1].answer({ ok: false, code: "rate_limited", message: "slow down", retry_after: 0 });
    await settle();
    mock.timers.tick(1_000);
    assert.deepEqual(h.calls.slice(2).map((c) => c.pending.client_id), ["b"]);
    mock.timers.tick(1_000);
    assert.deepEqual(h.calls.slice(2).map((c) => c.pending.client_id), ["b", "a"]);
  });

  it("marks a message refused for good as failed, drops it from the outbox, never resends it", async () => {
    const h = harness();
    h.sender.submit(pending("a"));
    h.calls[0].answer({ ok: false, code: "invalid_payload", message: "no" });
    await settle();
    assert.deepEqual(deliveries(h.log), ["failed"]);
    assert.deepEqual(h.outbox.list(), []);
    assert.deepEqual(h.events, ["change", "failed:a", "change"], "the failure is told before rendering");
    h.sender.resend();
    mock.timers.tick(60_000);
    assert.equal(h.calls.length, 1);
  });

  it("does not send a message twice while it is in flight", async () => {
    const h = harness();
    h.sender.submit(pending("a"));
    h.sender.resend();
    h.sender.resend();
    assert.equal(h.calls.length, 1);
    h.calls[0].answer({ ok: false, code: "timeout", message: "late" });
    await settle();
    h.sender.resend();
    assert.equal(h.calls.length, 2, "sent again once the first try is over");
    h.calls[1].answer({ ok: true, seq: 1, at: 1_700_000_001 });
    await settle();
    h.sender.resend();
    assert.equal(h.calls.length, 2, "nothing left to send after the ack");
  });
});

describe("TypingThrottle", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: NOW }));
  afterEach(() => mock.timers.reset());

  function typist(canType = () => true) {
    const signals = [];
    const throttle = new m.TypingThrottle({ canType, signal: (typing) => signals.push(typing) });
    return { throttle, signals };
  }

  it("says typing at most every TYPING_EVERY_MS while keys are pressed", () => {
    const { throttle, signals } = typist();
    throttle.typed();
    for (let i = 0; i < 5; i += 1) {
      mock.timers.tick(500);
      throttle.typed();
    }
    assert.deepEqual(signals, [true]);
    mock.timers.tick(m.TYPING_EVERY_MS - 2_500);
    throttle.typed();
    assert.deepEqual(signals, [true, true]);
  });

  it("says stopped once, TYPING_IDLE_MS after the last key", () => {
    const { throttle, signals } = typist();
    throttle.typed();
    mock.timers.tick(m.TYPING_EVERY_MS - 1);
    throttle.typed();
    mock.timers.tick(m.TYPING_IDLE_MS - 1);
    assert.deepEqual(signals, [true], "each key pushes the idle timeout back");
    mock.timers.tick(1);
    assert.deepEqual(signals, [true, false]);
    mock.timers.tick(60_000);
    throttle.stop();
    assert.deepEqual(signals, [true, false]);
  });

  it("stop says stopped only if typing was said, and cancels the idle timer", () => {
    const { throttle, signals } = typist();
    throttle.stop();
    assert.deepEqual(signals, []);
    throttle.typed();
    throttle.stop();
    throttle.stop();
    mock.timers.tick(60_000);
    assert.deepEqual(signals, [true, false]);
    throttle.typed();
    assert.deepEqual(signals, [true, false, true], "typing right after a stop is said again");
  });

  it("says nothing when it may not type (disconnected, or a reader)", () => {
    let may = false;
    const { throttle, signals } = typist(() => may);
    throttle.typed();
    mock.timers.tick(60_000);
    assert.deepEqual(signals, []);
    may = true;
    throttle.typed();
    assert.deepEqual(signals, [true]);
  });
});

describe("ReceiptAcks", () => {
  it("sends delivered once per newest seq, and read only when seen", () => {
    const sent = [];
    const acks = new m.ReceiptAcks((kind, seq) => sent.push(`${kind}:${seq}`));
    acks.acknowledge(0, true);
    acks.acknowledge(2, false);
    acks.acknowledge(2, false);
    acks.acknowledge(2, true);
    acks.acknowledge(3, true);
    acks.acknowledge(3, true);
    assert.deepEqual(sent, ["delivered:2", "read:2", "delivered:3", "read:3"]);
  });
});

describe("ChatLog.applySync", () => {
  const message = (seq, from) => ({ interaction: IX, seq, client_id: `c-${seq}`, from, name: "", text: `m${seq}`,
                                     at: 1_700_000_000 + seq });
  it("takes the missed messages, the server's last seq and the other side's receipts", () => {
    const log = new m.ChatLog("agent");
    log.applySync({ messages: [message(1, "visitor"), { bad: true }, message(2, "agent")], last_seq: 3,
                    receipts: { visitor: { delivered_seq: 2, read_seq: 1 }, agent: { delivered_seq: 1, read_seq: 1 } } });
    assert.deepEqual(log.entries().map((e) => e.seq), [1, 2]);
    assert.equal(log.hasGap, false);  // the server has nothing before 3 this log has not got
    assert.equal(log.delivery(log.entries()[1]), "delivered");  // the visitor's receipt, not the agent's
  });
});
