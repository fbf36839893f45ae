// Unit tests of the chat controller both sides share (signaling/client/chat_controller.ts):
// send → ack → receipts, sync after (re)connect with the outbox re-sent, pushes applied (gaps,
// duplicates, own echoes), receipts only by the writer, typing both ways. A fake socket.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, it, mock } from "node:test";

import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bundled = await build({
  stdin: { contents: 'export * from "./signaling/client/chat_controller";', resolveDir: root, loader: "ts" },
  bundle: true, format: "esm", target: "es2020", platform: "neutral", write: false,
});
const m = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);

const IX = "ix0000000001";
const NOW = 1_700_000_000_000;
const settle = () => new Promise((resolve) => setImmediate(resolve));

function memoryStorage() {
  const data = new Map();
  return { data, getItem: (k) => (data.has(k) ? data.get(k) : null), setItem: (k, v) => data.set(k, String(v)),
           removeItem: (k) => data.delete(k) };
}

/** A socket whose emits are recorded; each one waits for `answer` (or is answered by `auto`). */
function fakeSocket(auto = {}) {
  const emits = [];
  const socket = {
    connected: true,
    emits,
    timeout: () => ({
      emitWithAck: (event, payload) => new Promise((resolve) => {
        emits.push({ event, payload, answer: resolve });
        if (auto[event] !== undefined) resolve(auto[event](payload));
      }),
    }),
    sent: (event) => emits.filter((e) => e.event === event).map((e) => e.payload),
  };
  return socket;
}

const OK = () => ({ ok: true });

function harness({ self = "visitor", storage = memoryStorage(), seen = true, writer = true, auto = {} } = {}) {
  const socket = fakeSocket({ "chat.receipt": OK, "chat.typing": OK, ...auto });
  const events = [];
  const state = { seen, writer };
  let ids = 0;
  const chat = new m.ChatController({
    self, interaction: IX, socket: () => socket, storage, newId: () => `c${++ids}`,
  }, {
    onChange: () => events.push("change"),
    onPeerTyping: (typing) => events.push(`typing:${typing}`),
    onPeerMessage: (message) => events.push(`peer:${message.seq}`),
    onFailed: (pending) => events.push(`failed:${pending.client_id}`),
    seen: () => state.seen,
    writer: () => state.writer,
  });
  return { chat, socket, events, state, storage };
}

const message = (seq, from, extra = {}) => ({ interaction: IX, seq, client_id: `m${seq}`, from, name: "", text: `t${seq}`,
                                             at: 1_700_000_000 + seq, ...extra });
const deliveries = (chat) => chat.log.entries().map((e) => chat.log.delivery(e));

describe("ChatController", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: NOW }));
  afterEach(() => mock.timers.reset());

  it("sends with chat.send (same payload both sides), shows sent on ack, then the peer's receipts", async () => {
    const h = harness();
    h.chat.send("hello");
    assert.deepEqual(h.socket.sent("chat.send"), [{ interaction: IX, client_id: "c1", text: "hello" }]);
    assert.deepEqual(deliveries(h.chat), ["sending"]);
    h.socket.emits[0].answer({ ok: true, seq: 1, at: 1_700_000_001 });
    await settle();
    assert.deepEqual(deliveries(h.chat), ["sent"]);
    h.chat.onReceipt({ by: "agent", delivered_seq: 1, read_seq: 0 });
    assert.deepEqual(deliveries(h.chat), ["delivered"]);
    h.chat.onReceipt({ by: "visitor", delivered_seq: 1, read_seq: 1 });
    assert.deepEqual(deliveries(h.chat), ["delivered"], "own side's receipts are not the peer's");
    h.chat.onReceipt({ by: "agent", delivered_seq: 1, read_seq: 1 });
    assert.deepEqual(deliveries(h.chat), ["read"]);
  });

  it("sends an attachment without empty text, and cuts text to the cap", () => {
    const h = harness();
    h.chat.send("", { id: "att_12345678", name: "a.png", content_type: "image/png", size: 10 });
    h.chat.send("x".repeat(5000));
    const [first, second] = h.socket.sent("chat.send");
    assert.deepEqual(first, { interaction: IX, client_id: "c1", attachment: "att_12345678" });
    assert.equal(second.text.length, 4000);
  });

  it("syncs from the last seq on connect, applies the reply, acknowledges, then re-sends the outbox", async () => {
    const storage = memoryStorage();
    storage.setItem(`engage.outbox.${IX}`, JSON.stringify([{ client_id: "kept", text: "before reload", at: NOW }]));
    const h = harness({ storage });
    assert.deepEqual(deliveries(h.chat), ["sending"], "the outbox is shown before any connect");
    const sync = h.chat.sync();
    assert.deepEqual(h.socket.sent("chat.sync"), [{ interaction: IX, after_seq: 0 }]);
    assert.equal(h.socket.sent("chat.send").length, 0, "nothing re-sent before the sync answers");
    h.socket.emits[0].answer({ ok: true, messages: [message(1, "agent"), message(2, "agent")], last_seq: 2,
                               receipts: { agent: { delivered_seq: 0, read_seq: 0 } } });
    await sync;
    assert.equal(h.chat.log.lastSeq, 2);
    assert.deepEqual(h.socket.sent("chat.receipt"), [{ interaction: IX, seq: 2, kind: "delivered" },
                                                     { interaction: IX, seq: 2, kind: "read" }]);
    assert.deepEqual(h.socket.sent("chat.send").map((p) => p.client_id), ["kept"]);
  });

  it("runs a sync asked for during a sync once more afterwards, from the new last seq", async () => {
    const h = harness();
    const first = h.chat.sync();
    void h.chat.sync();
    void h.chat.sync();
    assert.equal(h.socket.sent("chat.sync").length, 1);
    h.socket.emits[0].answer({ ok: true, messages: [message(1, "agent")], last_seq: 1 });
    await settle();
    const syncs = h.socket.emits.filter((e) => e.event === "chat.sync");
    assert.deepEqual(syncs.map((e) => e.payload.after_seq), [0, 1]);
    syncs[1].answer({ ok: true, messages: [], last_seq: 1 });
    await first;
  });

  it("does nothing on the wire while disconnected, and keeps the message for the next connect", async () => {
    const h = harness();
    h.socket.connected = false;
    h.chat.send("offline");
    await h.chat.sync();
    assert.equal(h.socket.emits.length, 0);
    assert.deepEqual(deliveries(h.chat), ["sending"]);
    h.socket.connected = true;
    const sync = h.chat.sync();
    h.socket.emits[0].answer({ ok: true, messages: [], last_seq: 0 });
    await sync;
    assert.deepEqual(h.socket.sent("chat.send").map((p) => p.text), ["offline"]);
  });

  it("applies a peer message once: typing line down, hook, receipts; a gap asks for a sync", async () => {
    const h = harness({ seen: false });
    h.chat.onTyping({ from: "agent", typing: true });
    h.chat.onMessage(message(1, "agent"));
    h.chat.onMessage(message(1, "agent"));
    assert.deepEqual(h.events, ["typing:true", "typing:false", "peer:1", "change"]);
    assert.deepEqual(h.socket.sent("chat.receipt"), [{ interaction: IX, seq: 1, kind: "delivered" }],
                     "not read while unseen");
    h.state.seen = true;
    h.chat.acknowledge();
    assert.deepEqual(h.socket.sent("chat.receipt").at(-1), { interaction: IX, seq: 1, kind: "read" });
    h.chat.onMessage(message(3, "agent"));
    assert.deepEqual(h.socket.sent("chat.sync"), [{ interaction: IX, after_seq: 1 }]);
  });

  it("ignores the own side's typing echoes and takes a lost 'stopped typing' down after 15 s", () => {
    const h = harness({ self: "agent" });
    h.chat.onTyping({ from: "agent", typing: true });
    assert.deepEqual(h.events, []);
    h.chat.onTyping({ from: "visitor", typing: true });
    mock.timers.tick(m.PEER_TYPING_TIMEOUT_MS - 1);
    assert.deepEqual(h.events, ["typing:true"]);
    mock.timers.tick(1);
    assert.deepEqual(h.events, ["typing:true", "typing:false"]);
  });

  it("sends own typing throttled, and 'stopped' when the message goes", () => {
    const h = harness();
    h.chat.typed();
    h.chat.typed();
    assert.deepEqual(h.socket.sent("chat.typing"), [{ interaction: IX, typing: true }]);
    h.chat.send("done");
    assert.deepEqual(h.socket.sent("chat.typing").at(-1), { interaction: IX, typing: false });
  });

  it("a reader (agent not writing) neither sends, types nor acknowledges", () => {
    const h = harness({ self: "agent", writer: false });
    h.chat.send("no");
    h.chat.typed();
    h.chat.onMessage(message(1, "visitor"));
    assert.deepEqual(h.socket.emits.map((e) => e.event), []);
    assert.deepEqual(h.events, ["typing:false", "peer:1", "change"]);
  });

  it("keeps the agent's outbox under its own prefix, and finish() empties it", () => {
    const storage = memoryStorage();
    const h = harness({ self: "agent", storage });
    const chat = new m.ChatController({ self: "agent", interaction: IX, socket: () => null, storage,
                                        outboxPrefix: "engage.console.bob.outbox.", newId: () => "a1" },
                                      { onChange() {}, onPeerTyping() {}, seen: () => true });
    chat.send("kept");
    assert.deepEqual([...storage.data.keys()], ["engage.console.bob.outbox.ix0000000001"]);
    chat.finish();
    assert.equal(storage.data.size, 0);
    assert.equal(h.socket.emits.length, 0);
  });

  it("marks a refused message failed (hook called) and never retries it", async () => {
    const h = harness();
    h.chat.send("bad");
    h.socket.emits[0].answer({ ok: false, code: "forbidden", message: "no" });
    await settle();
    assert.deepEqual(deliveries(h.chat), ["failed"]);
    assert.ok(h.events.includes("failed:c1"));
  });

  it("tells the peer from the side (isPeer)", () => {
    assert.equal(m.isPeer("visitor", "agent"), true);
    assert.equal(m.isPeer("visitor", "visitor"), false);
    assert.equal(m.isPeer("agent", "visitor"), true);
    assert.equal(m.isPeer("agent", "agent"), false);
  });
});
