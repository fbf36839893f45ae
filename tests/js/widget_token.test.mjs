// Unit tests of the widget's visitor-token cache (web_widget/ts/widget/token.ts) and the
// storage it falls back to when the frame may not use its own (widget/storage.ts).

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bundled = await build({
  stdin: { contents: 'export * from "./web_widget/ts/widget/token"; export * from "./web_widget/ts/widget/storage";',
           resolveDir: root, loader: "ts" },
  bundle: true, format: "esm", target: "es2020", platform: "neutral", write: false,
});
const m = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);

function memoryStorage() {
  const data = new Map();
  return { data, getItem: (k) => (data.has(k) ? data.get(k) : null), setItem: (k, v) => data.set(k, String(v)),
           removeItem: (k) => data.delete(k) };
}

/** A fetch that answers tokens t1, t2, … and records the bodies it got. */
function tokenServer() {
  const bodies = [];
  const fetchFn = async (url, init) => {
    bodies.push(JSON.parse(init.body));
    const n = bodies.length;
    return { json: async () => ({ ok: true, token: `t${n}`, visitor_id: `v${n}`, identified: false }) };
  };
  return { bodies, fetchFn };
}

describe("VisitorTokens", () => {
  it("asks once, then uses the cached token until a day has passed", async () => {
    const storage = memoryStorage();
    const server = tokenServer();
    let now = 1_000;
    const tokens = new m.VisitorTokens("site_a", storage, server.fetchFn, () => now);
    assert.equal(await tokens.current(), "t1");
    assert.deepEqual(server.bodies[0], { site_key: "site_a" });
    const again = new m.VisitorTokens("site_a", storage, server.fetchFn, () => now);
    assert.equal(await again.current(), "t1", "a reload keeps it");
    assert.equal(again.visitorId, "v1");
    now += m.REFRESH_AFTER_MS;
    assert.equal(await again.current(), "t2");
    assert.deepEqual(server.bodies[1], { site_key: "site_a", token: "t1" }, "refresh sends the old token");
    assert.equal(server.bodies.length, 2);
  });

  it("a new identity from the loader asks again, with the hash", async () => {
    const storage = memoryStorage();
    const server = tokenServer();
    const tokens = new m.VisitorTokens("site_a", storage, server.fetchFn, () => 5);
    await tokens.current();
    tokens.setIdentity({ customer_id: "c1", customer_hash: "h1" });
    assert.equal(await tokens.current(), "t2");
    assert.deepEqual(server.bodies[1], { site_key: "site_a", token: "t1", customer_id: "c1", customer_hash: "h1" });
    assert.equal(await tokens.current(), "t2", "same customer: cached");
    tokens.setIdentity(null);
    assert.equal(await tokens.current(), "t3", "signed out: asks again");
  });

  it("concurrent callers share one request; invalidate forces a new one", async () => {
    const server = tokenServer();
    const tokens = new m.VisitorTokens("s", memoryStorage(), server.fetchFn, () => 5);
    assert.deepEqual(await Promise.all([tokens.current(), tokens.current()]), ["t1", "t1"]);
    tokens.invalidate();
    assert.equal(await tokens.current(), "t2");
    assert.equal(server.bodies.length, 2);
  });

  it("offline: falls back to the old token, or null", async () => {
    const failing = async () => { throw new Error("offline"); };
    assert.equal(await new m.VisitorTokens("s", null, failing, () => 5).current(), null);
  });
});

describe("MirroredStorage", () => {
  it("keeps engage.* keys, reports writes to the loader, seeds from hello.state", () => {
    const sent = [];
    const s = new m.MirroredStorage((key, value) => sent.push([key, value]));
    s.seed({ "engage.visitor.a": "x", "other": "y", "engage.n": 5 });
    assert.equal(s.getItem("engage.visitor.a"), "x");
    assert.equal(s.getItem("other"), null);
    assert.equal(s.getItem("engage.n"), null);
    s.setItem("engage.outbox.ix1", "[]");
    s.removeItem("engage.outbox.ix1");
    s.removeItem("engage.never");
    assert.deepEqual(sent, [["engage.outbox.ix1", "[]"], ["engage.outbox.ix1", null]]);
    assert.throws(() => s.setItem("host.key", "v"));
  });
});
