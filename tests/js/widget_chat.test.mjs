// Unit tests of the widget's chat model (signaling/client/chat_log.ts, outbox.ts, visitor side): merge by
// seq, de-duplication by client_id, gap detection, receipts, pending messages surviving a reload.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bundled = await build({
  stdin: { contents: 'export * from "./signaling/client/chat_log"; export * from "./signaling/client/outbox";',
           resolveDir: root, loader: "ts" },
  bundle: true, format: "esm", target: "es2020", platform: "neutral", write: false,
});
const m = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);

const IX = "ix0000000001";
const msg = (seq, extra = {}) => ({ interaction: IX, seq, client_id: `c-${seq}`, from: "agent", name: "Ann",
                                    text: `m${seq}`, at: 1_700_000_000 + seq, ...extra });
const texts = (log) => log.entries().map((e) => e.text);

/** A Map-backed localStorage. */
function memoryStorage() {
  const data = new Map();
  return { data, getItem: (k) => (data.has(k) ? data.get(k) : null), setItem: (k, v) => data.set(k, String(v)),
           removeItem: (k) => data.delete(k) };
}

describe("ChatLog", () => {
  it("orders by seq whatever the arrival order", () => {
    const log = new m.ChatLog();
    for (const seq of [3, 1, 2]) log.merge(msg(seq));
    assert.deepEqual(texts(log), ["m1", "m2", "m3"]);
    assert.equal(log.lastSeq, 3);
    assert.equal(log.hasGap, false);
  });

  it("drops duplicates by seq and by client_id", () => {
    const log = new m.ChatLog();
    assert.equal(log.merge(msg(1)), true);
    assert.equal(log.merge(msg(1)), false);
    assert.equal(log.merge(msg(2, { client_id: "c-1" })), false);
    assert.equal(log.size, 1);
  });

  it("detects a gap and closes it after a sync", () => {
    const log = new m.ChatLog();
    log.merge(msg(1));
    log.merge(msg(3));
    assert.equal(log.hasGap, true);
    assert.equal(log.lastSeq, 1, "sync from the last contiguous seq");
    log.merge(msg(2));
    assert.equal(log.hasGap, false);
    assert.equal(log.lastSeq, 3);
  });

  it("a sync vouches for seqs it did not send (no endless re-sync)", () => {
    const log = new m.ChatLog();
    log.merge(msg(1));
    log.merge(msg(4));
    log.syncedTo(4);
    assert.equal(log.hasGap, false);
    assert.equal(log.lastSeq, 4);
  });

  it("a pending message becomes the acked one (no duplicate) and keeps its place", () => {
    const log = new m.ChatLog();
    log.merge(msg(1));
    log.addPending({ client_id: "mine", text: "hello", at: Date.now() }, "");
    assert.deepEqual(texts(log), ["m1", "hello"]);
    const mine = log.entries()[1];
    assert.equal(log.delivery(mine), "sending");
    log.acked("mine", 2, 1_700_000_100);
    // the server's echo of the same message is ignored
    assert.equal(log.merge(msg(2, { client_id: "mine", from: "visitor", text: "hello" })), false);
    assert.equal(log.merge(msg(5, { client_id: "mine", from: "visitor", text: "hello" })), false);
    assert.deepEqual(texts(log), ["m1", "hello"]);
    assert.equal(log.delivery(log.entries()[1]), "sent");
  });

  it("a pushed copy of a pending message replaces it", () => {
    const log = new m.ChatLog();
    log.addPending({ client_id: "mine", text: "hi", at: 1 }, "");
    assert.equal(log.merge(msg(1, { client_id: "mine", from: "visitor", text: "hi" })), true);
    assert.equal(log.size, 1);
    assert.equal(log.entries()[0].seq, 1);
  });

  it("pending messages come after acked ones, in the order written", () => {
    const log = new m.ChatLog();
    log.addPending({ client_id: "b", text: "second", at: 20 }, "");
    log.addPending({ client_id: "a", text: "first", at: 10 }, "");
    log.merge(msg(1));
    assert.deepEqual(texts(log), ["m1", "first", "second"]);
  });

  it("receipts mark own messages delivered and read", () => {
    const log = new m.ChatLog();
    for (const seq of [1, 2, 3]) log.merge(msg(seq, { from: "visitor" }));
    log.setReceipts({ delivered_seq: 2, read_seq: 1 });
    assert.deepEqual(log.entries().map((e) => log.delivery(e)), ["read", "delivered", "sent"]);
    log.setReceipts({ delivered_seq: 0, read_seq: 0 });
    assert.equal(log.delivery(log.entries()[0]), "read", "receipts never go back");
  });

  it("knows the newest agent message", () => {
    const log = new m.ChatLog();
    log.merge(msg(1));
    log.merge(msg(2, { from: "visitor" }));
    assert.equal(log.lastPeerSeq(), 1);
  });

  it("a refused message is marked failed", () => {
    const log = new m.ChatLog();
    log.addPending({ client_id: "x", text: "t", at: 1 }, "");
    log.failed("x");
    assert.equal(log.delivery(log.entries()[0]), "failed");
  });
});

describe("Outbox", () => {
  it("pending messages survive a reload and leave once acked", () => {
    const storage = memoryStorage();
    const first = new m.Outbox(storage, IX);
    first.add({ client_id: "u1", text: "one", at: 1 });
    first.add({ client_id: "u2", text: "two", at: 2 });
    first.add({ client_id: "u1", text: "one", at: 1 });
    assert.ok(storage.data.has(m.outboxKey(IX)));

    const reloaded = new m.Outbox(storage, IX);
    assert.deepEqual(reloaded.list().map((p) => p.client_id), ["u1", "u2"]);
    const log = new m.ChatLog();
    for (const p of reloaded.list()) log.addPending(p, "");
    assert.deepEqual(texts(log), ["one", "two"]);

    reloaded.remove("u1");
    reloaded.remove("u2");
    assert.equal(storage.data.has(m.outboxKey(IX)), false);
    assert.deepEqual(new m.Outbox(storage, IX).list(), []);
  });

  it("is per interaction", () => {
    const storage = memoryStorage();
    new m.Outbox(storage, IX).add({ client_id: "u1", text: "x", at: 1 });
    assert.deepEqual(new m.Outbox(storage, "ix0000000002").list(), []);
  });

  it("works in memory when storage throws, and ignores corrupt data", () => {
    const broken = { getItem() { throw new Error("denied"); }, setItem() { throw new Error("denied"); },
                     removeItem() { throw new Error("denied"); } };
    const box = new m.Outbox(broken, IX);
    box.add({ client_id: "u1", text: "x", at: 1 });
    assert.equal(box.list().length, 1);
    const storage = memoryStorage();
    storage.setItem(m.outboxKey(IX), "{not json");
    assert.deepEqual(new m.Outbox(storage, IX).list(), []);
    storage.setItem(m.outboxKey(IX), JSON.stringify([{ client_id: 1 }, { client_id: "ok", text: "t", at: 3 }]));
    assert.deepEqual(new m.Outbox(storage, IX).list().map((p) => p.client_id), ["ok"]);
  });

  it("caps the pending messages", () => {
    const box = new m.Outbox(memoryStorage(), IX);
    for (let i = 0; i < m.OUTBOX_CAP + 5; i++) box.add({ client_id: `u${i}`, text: "x", at: i });
    assert.equal(box.list().length, m.OUTBOX_CAP);
    assert.equal(box.list()[0].client_id, "u5");
  });
});
