// Unit tests of web_widget/ts/loader/sensors.ts (pure struggle detectors, fake clock) and of the
// loader's event batch. Bundled in memory with esbuild, like protocol.test.mjs.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bundled = await build({
  stdin: { contents: 'export * from "./web_widget/ts/loader/sensors"; export * from "./web_widget/ts/loader/batch";'
                     + 'export { DEFAULT_SENSORS } from "./signaling/client/trail";',
           resolveDir: root, loader: "ts" },
  bundle: true, format: "esm", target: "es2020", platform: "neutral", write: false,
});
const m = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);

const config = (overrides = {}) => () => ({ ...m.DEFAULT_SENSORS, ...overrides });

describe("RageClickDetector", () => {
  it("reports 3 clicks exactly within 1000 ms and 30 px", () => {
    const rage = new m.RageClickDetector(config());
    assert.equal(rage.click(0, 100, 100, "button"), null);
    assert.equal(rage.click(500, 130, 100, "button"), null);
    assert.deepEqual(rage.click(1000, 100, 100, "button"),
                     { kind: "rage_click", count: 3, span_ms: 1000, radius_px: 30, target: "button" });
  });

  it("does not report when the third click comes 1001 ms after the first", () => {
    const rage = new m.RageClickDetector(config());
    rage.click(0, 0, 0, "a");
    rage.click(500, 0, 0, "a");
    assert.equal(rage.click(1001, 0, 0, "a"), null);
  });

  it("does not report when a click is 31 px away", () => {
    const rage = new m.RageClickDetector(config());
    rage.click(0, 0, 0, "a");
    rage.click(100, 0, 0, "a");
    assert.equal(rage.click(200, 31, 0, "a"), null);
  });

  it("reports once per burst, again after the burst ended", () => {
    const rage = new m.RageClickDetector(config());
    const hits = [0, 100, 200, 300, 400].map((at) => rage.click(at, 5, 5, "x")).filter(Boolean);
    assert.equal(hits.length, 1);
    const later = [5000, 5100, 5200].map((at) => rage.click(at, 5, 5, "x")).filter(Boolean);
    assert.equal(later.length, 1);
  });

  it("uses the configured count", () => {
    const rage = new m.RageClickDetector(config({ rage_click_count: 5 }));
    const hits = [0, 10, 20, 30].map((at) => rage.click(at, 0, 0, "x"));
    assert.ok(hits.every((h) => h === null));
    assert.equal(rage.click(40, 0, 0, "x").count, 5);
  });
});

describe("DeadClickWatch", () => {
  it("reports exactly at the wait", () => {
    const dead = new m.DeadClickWatch(config());
    dead.start(1000, "button#buy");
    assert.equal(dead.check(3499), null);
    assert.deepEqual(dead.check(3500), { kind: "dead_click", target: "button#buy", wait_ms: 2500 });
    assert.equal(dead.check(4000), null, "once");
  });

  it("a mutation cancels it", () => {
    const dead = new m.DeadClickWatch(config());
    dead.start(0, "b");
    dead.mutation();
    assert.equal(dead.check(5000), null);
  });

  it("a scroll within 100 ms cancels it, one after 100 ms does not", () => {
    const dead = new m.DeadClickWatch(config());
    dead.start(0, "b");
    dead.moved(100);
    assert.equal(dead.check(2500), null);
    dead.start(0, "b");
    dead.moved(101);
    assert.equal(dead.check(2500).kind, "dead_click");
  });
});

describe("ErrorClickDetector", () => {
  it("ties an error within 1000 ms (inclusive) to the click", () => {
    const ec = new m.ErrorClickDetector(config());
    ec.click(0, "button");
    assert.deepEqual(ec.error(1000, "TypeError: x"), { kind: "error_click", target: "button", message: "TypeError: x" });
    assert.equal(ec.error(1000, "again"), null, "one signal per click");
  });

  it("ignores an error 1001 ms later or without a click", () => {
    const ec = new m.ErrorClickDetector(config());
    assert.equal(ec.error(0, "e"), null);
    ec.click(0, "button");
    assert.equal(ec.error(1001, "e"), null);
  });

  it("caps the message at 300 chars", () => {
    const ec = new m.ErrorClickDetector(config());
    ec.click(0, "b");
    assert.equal(ec.error(1, "x".repeat(400)).message.length, 300);
  });
});

describe("FormThrashDetector", () => {
  const cycle = (d, n) => {
    let last = null;
    for (let i = 0; i < n; i++) {
      d.input("checkout", "card", 0);
      last = d.input("checkout", "card", 4);
    }
    return last;
  };

  it("reports at exactly 3 clear/refill cycles, not at 2", () => {
    const d = new m.FormThrashDetector(config());
    d.input("checkout", "card", 5);
    assert.equal(cycle(d, 2), null);
    assert.deepEqual(cycle(d, 1), { kind: "form_thrash", form: "checkout", field: "card", cycles: 3 });
  });

  it("typing without clearing is no cycle; fields count apart", () => {
    const d = new m.FormThrashDetector(config({ form_thrash_cycles: 2 }));
    for (const n of [1, 2, 3, 4, 3, 2, 1, 2]) assert.equal(d.input("f", "a", n), null);
    d.input("f", "a", 0);
    assert.equal(d.input("f", "b", 3), null);
    assert.equal(d.input("f", "a", 1), null);
    d.input("f", "a", 0);
    assert.equal(d.input("f", "a", 1).cycles, 2);
  });
});

describe("FormIdleTimer", () => {
  it("reports after exactly form_idle_ms of visible idle time, once", () => {
    const idle = new m.FormIdleTimer(config({ form_idle_ms: 1000 }));
    idle.focus("f", "email", 0);
    assert.deepEqual(idle.check(999), { signal: null, nextInMs: 1 });
    assert.deepEqual(idle.check(1000).signal, { kind: "form_idle", form: "f", step: "email", idle_ms: 1000 });
    assert.deepEqual(idle.check(5000), { signal: null, nextInMs: null });
  });

  it("input restarts the clock; hidden time does not count", () => {
    const idle = new m.FormIdleTimer(config({ form_idle_ms: 1000 }));
    idle.focus("f", "s", 0);
    idle.input(600);
    assert.equal(idle.check(1500).signal, null);
    idle.hide(1500); // 900 ms idle so far
    assert.equal(idle.check(9000).signal, null);
    idle.show(9000);
    assert.equal(idle.check(9099).signal, null);
    assert.equal(idle.check(9100).signal.idle_ms, 1000);
  });

  it("nothing after blur", () => {
    const idle = new m.FormIdleTimer(config({ form_idle_ms: 10 }));
    idle.focus("f", "s", 0);
    idle.blur();
    assert.deepEqual(idle.check(100), { signal: null, nextInMs: null });
  });
});

describe("DwellClock", () => {
  it("counts visible time only", () => {
    const d = new m.DwellClock(0, true);
    d.hide(1000);
    d.show(5000);
    assert.equal(d.dwell(5500), 1500);
    d.reset(6000, true);
    assert.equal(d.dwell(6100), 100);
  });
});

// -- describeTarget: fake DOM nodes ----------------------------------------------------------
function text(value) {
  return { nodeType: 3, nodeValue: value, childNodes: [] };
}

function el(tag, attrs = {}, ...children) {
  const node = {
    nodeType: 1, nodeValue: null, tagName: tag.toUpperCase(), id: attrs.id ?? "", parentElement: null,
    childNodes: children, value: attrs.value,
    getAttribute: (name) => (name in attrs ? String(attrs[name]) : null),
    hasAttribute: (name) => name in attrs,
  };
  for (const child of children) if (child.nodeType === 1) child.parentElement = node;
  return node;
}

describe("describeTarget", () => {
  it("gives tag, id and trimmed text", () => {
    assert.equal(m.describeTarget(el("button", { id: "buy" }, text("  Add \n to   cart "))),
                 'button#buy "Add to cart"');
  });

  it("cuts text at 60 characters", () => {
    const d = m.describeTarget(el("a", {}, text("x".repeat(100))));
    assert.equal(d, `a "${"x".repeat(59)}…"`);
  });

  it("never includes an input's value, whatever its type", () => {
    for (const type of ["text", "password", "submit", "email", "hidden"]) {
      const input = el("input", { type, name: "card", value: "4111 1111 1111 1111" });
      const d = m.describeTarget(input);
      assert.equal(d, `input[type=${type}][name=card]`);
      assert.ok(!d.includes("4111"));
    }
    assert.equal(m.describeTarget(el("textarea", { name: "note" }, text("secret text"))), "textarea[name=note]");
    assert.equal(m.describeTarget(el("select", { name: "country" }, el("option", {}, text("Secretland")))),
                 "select[name=country]");
  });

  it("skips fields and masked parts inside a described element", () => {
    const label = el("label", { id: "l" }, text("Card "), el("textarea", {}, text("typed secret")),
                     el("span", { "data-engage-mask": "" }, text("4111")), text(" number"));
    const d = m.describeTarget(label);
    assert.equal(d, 'label#l "Card number"');
  });

  it("describes elements inside [data-engage-mask] by tag and name only", () => {
    const button = el("button", { name: "acct" }, text("Account 12345678"));
    el("div", { "data-engage-mask": "" }, button);
    assert.equal(m.describeTarget(button), "button[name=acct]");
  });

  it("gives no text for page-sized containers", () => {
    assert.equal(m.describeTarget(el("html", {}, el("head", {}, el("title", {}, text("T"))), el("body", {}, text("All")))),
                 "html");
    assert.equal(m.describeTarget(el("body", { id: "b" }, text("Everything"))), "body#b");
  });

  it("falls back to aria-label for icon buttons", () => {
    assert.equal(m.describeTarget(el("button", { "aria-label": "Close" })), 'button "Close"');
  });
});

describe("EventBatch", () => {
  function fakeTimers() {
    const timers = new Map();
    let next = 1;
    return {
      timers,
      setTimer: (fn, ms) => { timers.set(next, { fn, ms }); return next++; },
      clearTimer: (id) => timers.delete(id),
      fire() { for (const [id, t] of [...timers]) { timers.delete(id); t.fn(); } },
    };
  }
  const ev = (i, type = "click") => ({ type, at: i, url: "https://h/" });

  it("buffers until ready (capped, page views kept), then sends in batches of 50", () => {
    const sent = [];
    const t = fakeTimers();
    const batch = new m.EventBatch({ send: (e) => sent.push(e), setTimer: t.setTimer, clearTimer: t.clearTimer });
    batch.push(ev(0, "page"));
    for (let i = 1; i <= 250; i++) batch.push(ev(i));
    assert.equal(sent.length, 0);
    assert.equal(batch.size, 200);
    batch.markReady();
    assert.deepEqual(sent.map((b) => b.length), [50, 50, 50, 50]);
    assert.equal(sent[0][0].type, "page");
    assert.equal(sent[3][49].at, 250);
  });

  it("flushes after the interval, or at 50 events", () => {
    const sent = [];
    const t = fakeTimers();
    const batch = new m.EventBatch({ send: (e) => sent.push(e), setTimer: t.setTimer, clearTimer: t.clearTimer });
    batch.markReady();
    batch.push(ev(1));
    batch.push(ev(2));
    assert.equal(sent.length, 0);
    assert.equal([...t.timers.values()][0].ms, 1000);
    t.fire();
    assert.deepEqual(sent.map((b) => b.length), [2]);
    for (let i = 0; i < 50; i++) batch.push(ev(i));
    assert.deepEqual(sent.map((b) => b.length), [2, 50]);
    assert.equal(t.timers.size, 0);
  });
});
