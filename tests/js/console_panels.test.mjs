// Unit tests of the console side panels' pure modules (agent_console/ts/panels/): trail lines and
// the watched visit, the ledger's edit draft and conflict diff, suggestion state, answers and
// shortcuts, the bulletin board, the shared customer focus.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const modules = ["panels/wire", "panels/trail_format", "panels/ledger_model", "panels/suggestion_state",
                 "panels/knowledge_model", "panels/bulletin_board", "shell/customer_focus"];
const bundled = await build({
  stdin: { contents: modules.map((m) => `export * from "./agent_console/ts/${m}";`).join("\n"),
           resolveDir: root, loader: "ts" },
  bundle: true, format: "esm", target: "es2020", platform: "neutral", write: false,
});
const m = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);

const T0 = Date.UTC(2026, 0, 5, 9, 30, 0);
const iso = (ms) => new Date(ms).toISOString();
const ev = (seq, extra = {}) => ({ visit: "vs_1", visitor: "v1", seq, server_at: iso(T0 + seq * 1000), at: T0 + seq * 1000,
                                   type: "page", url: `https://shop.example/p${seq}`, title: `Page ${seq}`, ...extra });

describe("wire", () => {
  it("reads times given as ms, seconds or ISO text", () => {
    assert.equal(m.timeMs(T0), T0);
    assert.equal(m.timeMs(T0 / 1000), T0);
    assert.equal(m.timeMs(iso(T0)), T0);
    assert.equal(m.timeMs("not a time"), 0);
    assert.equal(m.timeMs(null), 0);
  });

  it("shows addresses without their origin and durations in words", () => {
    assert.equal(m.displayUrl("https://shop.example/listings?x=1#a"), "/listings?x=1#a");
    assert.equal(m.displayUrl("https://shop.example"), "/");
    assert.equal(m.displayUrl("about:blank"), "about:blank");
    assert.equal(m.formatDuration(42_000), "42 s");
    assert.equal(m.formatDuration(185_000), "3 min 5 s");
    assert.equal(m.formatDuration(3_720_000), "1 h 2 min");
  });

  it("cuts long text and refuses the wrong types", () => {
    assert.equal(m.str("x".repeat(600)).length, 500);
    assert.equal(m.str(5, "fallback"), "fallback");
    assert.equal(m.num("5"), 0);
    assert.deepEqual(m.strings(["a", 1, null, "b"]), ["a", "b"]);
  });
});

describe("trail lines", () => {
  it("says what happened in one line per event", () => {
    const line = (extra) => m.trailLine(ev(1, extra));
    assert.deepEqual([line({}).kind, line({}).text], ["Page", "Page 1 — /p1"]);
    assert.equal(line({ nav: "pop" }).text, "Page 1 — /p1 (back)");
    assert.equal(line({ type: "leave", dwell_ms: 65_000 }).text, "/p1 after 1 min 5 s");
    assert.equal(line({ type: "click", target: "button#buy" }).text, "button#buy on /p1");
    assert.equal(line({ type: "form", form: "checkout", step: "card", action: "invalid" }).text,
                 "checkout: “card” was refused");
    assert.equal(line({ type: "http_error", status: 404 }).text, "Error page 404 at /p1");
    assert.equal(line({ type: "signal", kind: "rage_click", count: 5, target: "a.next" }).text,
                 "5 rapid clicks on a.next");
    assert.equal(line({ type: "signal", kind: "form_idle", form: "loan", step: "income", idle_ms: 90_000 }).text,
                 "Stuck 1 min 30 s at “income” in loan");
    assert.equal(line({ type: "conversion", value: 120 }).text, "Converted (value 120) on /p1");
    assert.equal(m.trailLine(ev(1, { type: "heartbeat" })), null);
    assert.equal(m.trailLine("not an event"), null);
  });

  it("marks struggle: signals, errors, and anything the server counted", () => {
    assert.equal(m.trailLine(ev(1)).struggle, false);
    assert.equal(m.trailLine(ev(1, { type: "signal", kind: "dead_click" })).struggle, true);
    assert.equal(m.trailLine(ev(1, { type: "error", message: "x" })).struggle, true);
    assert.equal(m.trailLine(ev(1, { type: "click", counted: ["error_click"] })).struggle, true);
  });

  it("keeps markup as text", () => {
    const line = m.trailLine(ev(1, { title: "<img src=x onerror=alert(1)>" }));
    assert.ok(line.text.startsWith("<img src=x onerror=alert(1)> — "));
  });
});

describe("TrailLog", () => {
  it("is newest first, de-duplicated, and capped", () => {
    const log = new m.TrailLog(3);
    assert.equal(log.merge([ev(1), ev(2)]), true);
    assert.equal(log.merge([ev(2)]), false, "the ack and a push may carry the same event");
    log.merge([ev(4), ev(3), ev(5)]);
    assert.deepEqual(log.entries().map((l) => l.seq), [5, 4, 3]);
    assert.equal(log.size, 3);
  });

  it("orders one batch (same server time) by sequence", () => {
    const log = new m.TrailLog();
    const at = iso(T0);
    log.merge([ev(7, { server_at: at }), ev(9, { server_at: at }), ev(8, { server_at: at })]);
    assert.deepEqual(log.entries().map((l) => l.seq), [9, 8, 7]);
  });
});

describe("VisitState", () => {
  const snapshot = {
    visitor: "v1", visit: "vs_1", page: { url: "https://shop.example/p2", title: "Page 2" }, pages: 2,
    returning: true, score: 3.5, signals: ["rage_click"], landing: "https://shop.example/", referrer: "",
    started_ms: T0, trail: [ev(1), ev(2)], context: {},
  };

  it("follows pushes for its visitor only", () => {
    const state = new m.VisitState();
    state.applySnapshot(snapshot);
    assert.equal(state.trail.size, 2);
    assert.equal(state.applyPush({ visitor: "someone-else", visit: "vs_9", events: [ev(3)], score: 9 }), false);
    assert.equal(state.score, 3.5);
    assert.equal(state.applyPush({ visitor: "v1", visit: "vs_1", score: 6.5,
                                   events: [ev(3), ev(4, { type: "signal", kind: "dead_click", counted: ["dead_click"] })] }), true);
    assert.deepEqual([state.page.title, state.pages, state.score], ["Page 3", 3, 6.5]);
    assert.deepEqual(state.signals, ["rage_click", "dead_click"]);
    assert.deepEqual(state.trail.entries().map((l) => l.seq), [4, 3, 2, 1]);
  });

  it("starts counting pages again on a new visit", () => {
    const state = new m.VisitState();
    state.applySnapshot(snapshot);
    state.applyPush({ visitor: "v1", visit: "vs_2", score: 0, events: [{ ...ev(1), visit: "vs_2" }] });
    assert.deepEqual([state.visit, state.pages], ["vs_2", 1]);
    assert.equal(state.trail.size, 3, "seq 1 of another visit is another event");
  });

  it("ignores a push before any snapshot", () => {
    assert.equal(new m.VisitState().applyPush({ visitor: "", events: [ev(1)] }), false);
  });
});

describe("offer context", () => {
  it("says what brought the visitor and where they asked from", () => {
    assert.equal(m.originText({ origin: "widget" }), "Asked for help in the widget");
    assert.equal(m.originText({ origin: "invite", invite: { id: "inv1", rule: "rule_7", name: "Listings" } }),
                 "Accepted a proactive invite “Listings” (rule rule_7)");
    assert.equal(m.askedFrom({ page: { url: "https://shop.example/loan", title: "Loans" } }),
                 "Loans — https://shop.example/loan");
    assert.equal(m.askedFrom({ client: { page: "Pricing" } }), "Pricing");
    assert.equal(m.askedFrom({ page: { url: "https://shop.example/account", title: "" } }), "https://shop.example/account");
    assert.equal(m.askedFrom({}), "");
    assert.equal(m.askedReason({ client: { reason: "deposit?" } }), "deposit?");
    assert.equal(m.signalSummary(["rage_click", "dead_click", "rage_click"]), "Rage clicks ×2, Dead click");
    assert.equal(m.scoreText(5.25), "5.3 (high)");
    assert.equal(m.scoreText(0), "0.0 (low)");
  });
});

// -- ledger ------------------------------------------------------------------------------------
const ledger = {
  customer_id: "C1", version: 4,
  customer: { name: "Wang Wei", phone: "+8613800001234", email: "w***@qq.com", district: "Pudong",
              contact_opt_out: false, membership: "gold", household_size: 3 },
  editable: ["contact_opt_out", "district", "email", "household_size", "phone", "unknown_field"],
  fields: { contact_opt_out: { type: "bool" }, district: { type: "text", max: 60, required: false },
            email: { type: "email", max: 254 }, household_size: { type: "int", min: 1, max: 20, optional: true },
            phone: { type: "tel", max: 32 }, membership: { type: "choice", choices: ["none", "gold"] } },
  masked: ["email"],
};

describe("ledger edits", () => {
  it("offers the editable fields in the ledger's order, never masked ones", () => {
    assert.deepEqual(m.editableFields(ledger), ["phone", "district", "contact_opt_out", "household_size"]);
  });

  it("parses inputs by their spec", () => {
    const specs = m.parseSpecs(ledger.fields);
    assert.deepEqual(m.parseInput(specs.get("household_size"), "4"), { value: 4 });
    assert.deepEqual(m.parseInput(specs.get("household_size"), ""), { value: null });
    assert.deepEqual(m.parseInput(specs.get("household_size"), "21"), { error: "from 1 to 20" });
    assert.deepEqual(m.parseInput(specs.get("household_size"), "2.5"), { error: "a whole number" });
    assert.deepEqual(m.parseInput(specs.get("contact_opt_out"), true), { value: true });
    assert.deepEqual(m.parseInput(specs.get("district"), "  Xuhui "), { value: "Xuhui" });
    assert.deepEqual(m.parseInput(specs.get("district"), "x".repeat(61)), { error: "at most 60 characters" });
    assert.deepEqual(m.parseInput(specs.get("membership"), "platinum"), { error: "one of none, gold" });
  });

  it("sends only what changed ('' and absent are the same)", () => {
    const changes = m.changesOf(ledger.customer, { phone: "+8613800001234", district: "Xuhui", address: "",
                                                   contact_opt_out: true });
    assert.deepEqual(changes, [{ field: "district", old: "Pudong", new: "Xuhui" },
                               { field: "contact_opt_out", old: false, new: true }]);
  });

  it("shows values as an agent reads them", () => {
    assert.deepEqual([m.shownValue(true), m.shownValue(null), m.shownValue(""), m.shownValue(3)], ["yes", "—", "—", "3"]);
    assert.equal(m.fieldLabel("sms_opt_out"), "No SMS");
    assert.equal(m.fieldLabel("something_new"), "something new");
    assert.equal(m.money(3_200_000), "3,200,000.00");
  });
});

describe("ledger conflict", () => {
  const mine = [{ field: "phone", old: "+8613800001234", new: "+8613911112222" },
                { field: "district", old: "Pudong", new: "Xuhui" }];
  const answer = {
    ok: false, code: "conflict", current_version: 6,
    changes_since: [
      { version: 6, field: "district", old: "Minhang", new: "Xuhui", by: "bob", at_ms: T0 + 5 },
      { version: 5, field: "phone", old: "+8613800001234", new: "+8613700000000", by: "ann", at_ms: T0 },
      { version: 5, field: "district", old: "Pudong", new: "Minhang", by: "ann", at_ms: T0 },
      { version: 6, field: "email", old: null, new: null, by: "sup", at_ms: T0 + 5, redacted: true },
    ],
  };

  it("puts their change next to yours, field by field", () => {
    const conflict = m.conflictOf(mine, answer);
    assert.equal(conflict.currentVersion, 6);
    assert.deepEqual(conflict.rows.map((r) => r.field), ["phone", "district", "email"]);
    const [phone, district, email] = conflict.rows;
    assert.deepEqual([phone.clash, phone.agree, phone.theirs.map((c) => c.by)], [true, false, ["ann"]]);
    assert.deepEqual(district.theirs.map((c) => c.version), [5, 6], "oldest first");
    assert.deepEqual([district.clash, district.agree], [false, true], "their last value is yours");
    assert.deepEqual([email.mine, email.clash], [null, false]);
    assert.deepEqual(conflict.clashes, ["phone"]);
    assert.equal(m.changeText(email.theirs[0]), "changed (hidden from your role)");
    assert.equal(m.changeText(phone.theirs[0]), "+8613800001234 → +8613700000000");
  });

  it("'Keep mine' saves your changes on the version the server has now", () => {
    assert.deepEqual(m.keepMine(mine, m.conflictOf(mine, answer)),
                     { version: 6, changes: { phone: "+8613911112222", district: "Xuhui" } });
  });
});

// -- suggestions -------------------------------------------------------------------------------
describe("suggestions", () => {
  it("says why there is nothing to suggest", () => {
    const none = m.parseSuggestions({ ok: true, suggestions: [], status: "no_results", message: "No analysis has run yet" });
    assert.equal(none.empty, "Not analysed yet: No analysis has run yet. Suggestions appear after the next analysis run.");
    const late = m.parseSuggestions({ ok: true, suggestions: [], status: "not_analysed", version: 2,
                                      message: "This customer joined after the current analysis ran" });
    assert.equal(late.empty, "Not analysed: This customer joined after the current analysis ran.");
    assert.equal(m.parseSuggestions({ ok: true, suggestions: [], status: "no_offers" }).empty,
                 "No suggestions: nothing to suggest to this customer.");
  });

  it("reads offers and what was already recorded", () => {
    const view = m.parseSuggestions({
      ok: true, status: "ok", version: 3, run_at: iso(T0),
      suggestions: [{ product: "DC-PNT", product_name: "Wall repaint", score: 0.823, reason: "Bought a flat." },
                    { product: "", score: 1 }],
      feedback: { "DC-PNT": { outcomes: ["declined", "offered"], last: "declined", by: "ann", at: iso(T0) } },
    });
    assert.deepEqual(view.suggestions, [{ product: "DC-PNT", name: "Wall repaint", score: 0.823, reason: "Bought a flat." }]);
    assert.equal(view.empty, "");
    assert.ok(view.source.startsWith("Analysis version 3 of "));
    const state = view.recorded.get("DC-PNT");
    assert.equal(m.isRecorded(state, "offered"), true);
    assert.equal(m.isRecorded(state, "accepted"), false);
    assert.ok(m.recordedText(state).startsWith("Recorded: declined (offered before) by ann at "));
    assert.equal(m.scorePercent(0.823), "82%");
  });

  it("moves on as outcomes are recorded", () => {
    let state = m.NOTHING_RECORDED;
    assert.equal(m.recordedText(state), "");
    state = m.withRecorded(state, { outcome: "offered", actor: "ann", at: iso(T0) });
    state = m.withRecorded(state, { outcome: "accepted", actor: "ann", at: iso(T0 + 1000) });
    state = m.withRecorded(state, { outcome: "offered", actor: "bob", at: iso(T0 + 2000) });
    assert.deepEqual(state.outcomes, ["offered", "accepted"]);
    assert.equal(state.last, "offered");
    assert.equal(state.by, "bob");
    assert.equal(m.withRecorded(state, { outcome: "maybe" }), state, "an unknown outcome changes nothing");
  });
});

// -- answers -----------------------------------------------------------------------------------
const answers = [
  { answer_id: "kb_greeting01", title: "Greeting", category: "General", shortcut: "/hi", tags: ["hello"],
    text: { en: "Hello {visitor_name}", zh: "{visitor_name}您好" } },
  { answer_id: "kb_refund0001", title: "Refunds", category: "Buying", shortcut: "/refund", tags: [],
    text: { zh: "退款说明" } },
  { title: "no id" },
];
const conversation = (extra = {}) => ({ interaction: "ix0000000001", state: "connected", queue: "help", channel: "chat",
                                        customer: "", context: { client: { name: "Li", lang: "zh-CN" } }, name: "Li Wei", ...extra });

describe("answers", () => {
  it("finds the answer of a typed shortcut", () => {
    const list = m.parseAnswers(answers);
    assert.equal(list.length, 2);
    assert.equal(m.typedShortcut(" /Refund "), "/refund");
    assert.equal(m.typedShortcut("refund"), "");
    assert.equal(m.exactShortcut(list, "/REFUND").id, "kb_refund0001");
    assert.equal(m.exactShortcut(list, "/ref"), null);
  });

  it("previews in the visitor's language, else the other one", () => {
    const [greeting, refund] = m.parseAnswers(answers);
    assert.equal(m.answerLang(conversation()), "zh");
    assert.equal(m.answerLang(conversation({ context: {} })), "en");
    assert.equal(m.answerLang(null), "en");
    assert.deepEqual(m.previewText(greeting, "en"), { text: "Hello {visitor_name}", lang: "en" });
    assert.deepEqual(m.previewText(refund, "en"), { text: "退款说明", lang: "zh" });
  });

  it("asks the server to render for the conversation, and says when it cannot", () => {
    assert.deepEqual(m.renderRequest(conversation(), "en"),
                     { lang: "en", interaction: "ix0000000001", values: { visitor_name: "Li Wei" } });
    assert.deepEqual(m.renderRequest(conversation({ name: "", context: {} }), "en").values, {});
    assert.equal(m.insertBlocked(null), "Select a conversation to insert an answer into it.");
    assert.equal(m.insertBlocked(conversation({ state: "offered" })), "Accept the conversation first to insert an answer.");
    assert.equal(m.insertBlocked(conversation()), "");
  });
});

// -- bulletin board ----------------------------------------------------------------------------
const post = (id, extra = {}) => ({ post_id: id, text: `text ${id}`, author: { username: "ann", display_name: "Ann" },
                                   pinned: false, created_ms: T0, expires_ms: null, edited: false, ...extra });

describe("bulletin board", () => {
  it("lists pinned first, then newest, without expired posts", () => {
    const board = new m.Board();
    board.reset([post("post_a", { created_ms: T0 }), post("post_b", { created_ms: T0 + 10 }),
                 post("post_p", { created_ms: T0 - 10, pinned: true }),
                 post("post_x", { created_ms: T0 + 20, expires_ms: T0 + 100 }), { text: "no id" }]);
    assert.deepEqual(board.list(T0).map((p) => p.id), ["post_p", "post_x", "post_b", "post_a"]);
    assert.deepEqual(board.list(T0 + 100).map((p) => p.id), ["post_p", "post_b", "post_a"]);
  });

  it("applies pushes: posted, pinned, deleted (any order, duplicates harmless)", () => {
    const board = new m.Board();
    assert.equal(board.apply({ action: "posted", post: post("post_a") }), true);
    board.add(post("post_a")); // our own answer after the push
    assert.equal(board.list(T0).length, 1);
    board.apply({ action: "pinned", post: post("post_a", { pinned: true }) });
    assert.equal(board.list(T0)[0].pinned, true);
    assert.equal(board.apply({ action: "deleted", post: { post_id: "post_a" } }), true);
    assert.equal(board.apply({ action: "posted", post: post("post_a") }), false, "a late copy stays deleted");
    assert.equal(board.apply({ action: "edited", post: post("post_b") }), false);
    assert.equal(board.apply(null), false);
    assert.deepEqual(board.list(T0), []);
  });

  it("keeps what was pushed while the list was loading", () => {
    const board = new m.Board();
    board.beginLoad();
    board.apply({ action: "posted", post: post("post_new", { created_ms: T0 + 5 }) });
    board.reset([post("post_old")]); // answered before post_new existed
    assert.deepEqual(board.list(T0).map((p) => p.id), ["post_new", "post_old"]);
    board.beginLoad();
    board.reset([post("post_old")]);
    assert.deepEqual(board.list(T0).map((p) => p.id), ["post_old"], "a later list is the truth again");
  });

  it("lets authors delete their own posts and supervisors any, and pin", () => {
    const p = m.parsePost(post("post_a"));
    assert.equal(m.canDelete(p, "ann", "agent"), true);
    assert.equal(m.canDelete(p, "bob", "agent"), false);
    assert.equal(m.canDelete(p, "sue", "supervisor"), true);
    assert.equal(m.canDelete(p, "ann", "marketer"), false);
    assert.deepEqual([m.canPin("agent"), m.canPin("supervisor"), m.canPost("marketer")], [false, true, false]);
  });
});

describe("customer focus", () => {
  it("tells its listeners of changes only", () => {
    const focus = new m.CustomerFocus();
    const seen = [];
    focus.on((c) => seen.push(c?.id ?? null));
    focus.set({ id: "C1", name: "Wang", source: "search" });
    focus.set({ id: "C1", name: "Wang", source: "search" });
    focus.set(null);
    assert.deepEqual(seen, [null, "C1", null]);
  });
});
