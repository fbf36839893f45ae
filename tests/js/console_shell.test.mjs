// Unit tests of the console shell's pure parts: the desk reducer (agent_console/ts/
// conversation/state.ts), timers and labels (shell/text.ts), push and view parsing
// (signaling/client/agent.ts), and the shared chat model on the agent's side (signaling/client/).

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bundled = await build({
  stdin: {
    contents: ['export * from "./agent_console/ts/conversation/state";',
               'export * from "./agent_console/ts/shell/text";',
               'export * from "./signaling/client/agent";',
               'export * from "./agent_console/ts/shell/staff_lists";',
               'export * from "./signaling/client/chat_log";',
               'export * from "./signaling/client/outbox";',
               'export { parseReceipts } from "./signaling/client/visitor";'].join("\n"),
    resolveDir: root, loader: "ts",
  },
  bundle: true, format: "esm", target: "es2020", platform: "neutral", write: false,
});
const m = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);

const IX = "ix0000000001";
const IX2 = "ix0000000002";
const context = { client: { name: "Li Wei", reason: "flat" }, origin: "widget", visitor: "v_1",
                  page: { url: "https://shop.test/listings", title: "Listings" } };

function offerPush(extra = {}) {
  return m.guardAgentPush("offer", { interaction: IX, queue: "help", channel: "chat", customer: "",
                                     context: JSON.stringify(context), deadline_ms: 50_000,
                                     server_ms: 30_000, ring_all: false, profile: null, ...extra });
}

function view(items, extra = {}) {
  return m.parseAgentView({ state: "busy", reason: "", queues: ["help"], server_ms: 1000,
                            interactions: items, ...extra });
}

const item = (extra) => ({ interaction: IX, state: "connected", queue: "help", channel: "chat", customer: "",
                           visitor: "v_1", context, consult: "", consult_state: "", agent: "ann",
                           answered_ms: 1, ended_ms: 0, ...extra });

describe("desk reducer", () => {
  it("an offer becomes a conversation on accept and the input is never modified", () => {
    const a = m.reduce(m.EMPTY_DESK, { type: "offer", push: offerPush() });
    assert.equal(a.offers.get(IX).kind, "offer");
    assert.equal(a.offers.get(IX).deadlineMs, 50_000);
    const b = m.reduce(a, { type: "accepted", interaction: IX });
    assert.equal(a.offers.size, 1, "the earlier desk is untouched");
    assert.equal(b.offers.size, 0);
    const held = b.held.get(IX);
    assert.deepEqual([held.role, held.state, held.name, held.visitor, held.queue], ["owner", "connected", "Li Wei", "v_1", "help"]);
  });

  it("a declined, revoked or lapsed offer leaves; an offer for a held conversation is ignored", () => {
    const a = m.reduce(m.EMPTY_DESK, { type: "offer", push: offerPush() });
    assert.equal(m.reduce(a, { type: "offer_gone", interaction: IX }).offers.size, 0);
    const held = m.reduce(a, { type: "accepted", interaction: IX });
    assert.equal(m.reduce(held, { type: "offer", push: offerPush() }).offers.size, 0);
  });

  it("accept works from the ack alone when the offer card is already gone", () => {
    const d = m.reduce(m.EMPTY_DESK, { type: "accepted", interaction: IX2,
                                       reply: { queue: "billing", channel: "chat", customer: "C1", context } });
    assert.equal(d.held.get(IX2).queue, "billing");
    assert.equal(d.held.get(IX2).customer, "C1");
  });

  it("wrap-up keeps the deadline, closed removes the conversation", () => {
    let d = m.reduce(m.EMPTY_DESK, { type: "accepted", interaction: IX, reply: { queue: "help", context } });
    d = m.reduce(d, { type: "wrap_up", interaction: IX, deadlineMs: 90_000, nowMs: 60_000 });
    assert.deepEqual([d.held.get(IX).state, d.held.get(IX).deadlineMs, d.held.get(IX).endedMs], ["wrap_up", 90_000, 60_000]);
    assert.equal(m.reduce(d, { type: "closed", interaction: IX }).held.size, 0);
  });

  it("a warm transfer, from the owner's side: waiting, joined, handed over", () => {
    let d = m.reduce(m.EMPTY_DESK, { type: "accepted", interaction: IX, reply: { context } });
    d = m.reduce(d, { type: "consult_started", interaction: IX, agent: "bob" });
    assert.deepEqual(d.held.get(IX).consult, { agent: "bob", accepted: false });
    d = m.reduce(d, { type: "consult_accepted", interaction: IX, agent: "bob" });
    assert.deepEqual(d.held.get(IX).consult, { agent: "bob", accepted: true });
    const cancelled = m.reduce(d, { type: "consult_cancelled", interaction: IX });
    assert.equal(cancelled.held.get(IX).consult, null, "the owner keeps the conversation");
    assert.equal(m.reduce(d, { type: "transferred", interaction: IX }).held.size, 0);
  });

  it("a warm transfer, from the consultant's side: offer, joined, cancelled or taken over", () => {
    let d = m.reduce(m.EMPTY_DESK, { type: "consult_offer", push: offerPush({ from_agent: "ann" }) });
    assert.equal(d.offers.get(IX).kind, "consult");
    assert.equal(d.offers.get(IX).fromAgent, "ann");
    d = m.reduce(d, { type: "consult_joined", interaction: IX });
    assert.deepEqual([d.held.get(IX).role, d.held.get(IX).owner], ["consultant", "ann"]);
    assert.equal(m.reduce(d, { type: "consult_cancelled", interaction: IX }).held.size, 0, "the consultant leaves");
    const owner = m.reduce(d, { type: "transfer_completed", interaction: IX }).held.get(IX);
    assert.deepEqual([owner.role, owner.owner, owner.consult], ["owner", "", null]);
  });

  it("the view rebuilds offers, conversations, consultations and wrap-ups, and drops what ended", () => {
    let d = m.reduce(m.EMPTY_DESK, { type: "accepted", interaction: "ix0000000099", reply: { context } });
    d = m.reduce(d, { type: "view", me: "bob", view: view([
      item({ interaction: "ix0000000001", state: "offered", agent: "bob", deadline_ms: 7000 }),
      item({ interaction: "ix0000000002", state: "connected", agent: "bob", consult: "cy", consult_state: "accepted" }),
      item({ interaction: "ix0000000003", state: "wrap_up", agent: "bob", deadline_ms: 9000, ended_ms: 5000 }),
      item({ interaction: "ix0000000004", state: "connected", agent: "ann", consult: "bob", consult_state: "offered", deadline_ms: 8000 }),
      item({ interaction: "ix0000000005", state: "connected", agent: "ann", consult: "bob", consult_state: "accepted" }),
      item({ interaction: "ix0000000006", state: "transferred", agent: "bob" }),
    ]) });
    assert.deepEqual([...d.offers.keys()], ["ix0000000001", "ix0000000004"]);
    assert.equal(d.offers.get("ix0000000001").deadlineMs, 7000);
    assert.deepEqual([d.offers.get("ix0000000004").kind, d.offers.get("ix0000000004").fromAgent], ["consult", "ann"]);
    assert.deepEqual([...d.held.keys()], ["ix0000000002", "ix0000000003", "ix0000000005"]);
    assert.deepEqual(d.held.get("ix0000000002").consult, { agent: "cy", accepted: true });
    assert.deepEqual([d.held.get("ix0000000003").deadlineMs, d.held.get("ix0000000003").endedMs], [9000, 5000]);
    assert.deepEqual([d.held.get("ix0000000005").role, d.held.get("ix0000000005").owner], ["consultant", "ann"]);
    assert.equal(d.state, "busy");
  });

  it("the agent's state follows pushes", () => {
    const d = m.reduce(m.EMPTY_DESK, { type: "agent_state", state: "away", reason: "missed_offers" });
    assert.deepEqual([d.state, d.reason], ["away", "missed_offers"]);
  });

  it("a tab is labelled by the visitor's name, else the queue", () => {
    assert.equal(m.tabLabel({ name: "Li Wei", queue: "help" }, () => "Help"), "Li Wei");
    assert.equal(m.tabLabel({ name: "", queue: "help" }, () => "Help"), "Help");
  });
});

describe("timers and labels", () => {
  it("formats countdowns rounding up and elapsed times rounding down", () => {
    assert.equal(m.formatCountdown(19_001), "0:20");
    assert.equal(m.formatCountdown(20_000), "0:20");
    assert.equal(m.formatCountdown(1), "0:01");
    assert.equal(m.formatCountdown(-5_000), "0:00");
    assert.equal(m.formatDuration(61_999), "1:01");
    assert.equal(m.formatDuration(3_600_000 + 62_000), "1:01:02");
  });

  it("the wrap-up timer counts down a window, or up without one", () => {
    assert.deepEqual(m.wrapUpTimer(10_000, 40_000, 5_000), { text: "0:30 left", overdue: false });
    assert.deepEqual(m.wrapUpTimer(41_000, 40_000, 5_000), { text: "0:00 left", overdue: true });
    assert.deepEqual(m.wrapUpTimer(70_000, 0, 5_000), { text: "1:05 elapsed", overdue: false });
  });

  it("the progress bar stays within 0..1", () => {
    assert.equal(m.fractionLeft(5_000, 20_000), 0.25);
    assert.equal(m.fractionLeft(30_000, 20_000), 1);
    assert.equal(m.fractionLeft(-1, 20_000), 0);
  });

  it("counts on the server's clock whatever this browser's clock says", () => {
    let local = 1_000;
    const clock = new m.ServerClock(() => local);
    clock.observe(61_000);  // the server is a minute ahead
    assert.equal(clock.until(81_000), 20_000);
    local += 5_000;
    assert.equal(clock.until(81_000), 15_000);
    clock.observe(0);  // no timestamp: the offset stays
    assert.equal(clock.now(), 66_000);
  });

  it("labels states, reasons, dispositions and unknown codes", () => {
    assert.equal(m.stateLabel("away", "missed_offers"), "Away (missed offers)");
    assert.equal(m.stateLabel("away", "lunch"), "Away (lunch)");
    assert.equal(m.stateLabel("wrap_up"), "Wrap-up");
    assert.equal(m.dispositionLabel("follow_up"), "Follow-up needed");
    assert.equal(m.dispositionLabel("new_code"), "New code");
    assert.equal(m.channelLabel("cobrowse"), "Co-browse");
  });

  it("summarises the visitor from the context and the profile", () => {
    const s = m.visitorSummary(context);
    assert.deepEqual([s.name, s.pageTitle, s.pageUrl, s.origin, s.reason],
                     ["Li Wei", "Listings", "https://shop.test/listings", "Website chat", "flat"]);
    const invited = m.visitorSummary({ origin: "invite", invite: { name: "Spring" } }, { name: "Zhang San" });
    assert.deepEqual([invited.name, invited.origin], ["Zhang San", "Invitation “Spring”"]);
    assert.equal(m.profileLine({ membership: "gold", lifetime_value: 12345.6, district: "Pudong" }),
                 "Gold member · lifetime value 12,346 · Pudong");
    assert.equal(m.profileLine(null), "");
  });
});

describe("pushes and the view", () => {
  it("checks pushes and drops malformed ones", () => {
    const offer = offerPush();
    assert.deepEqual(offer.context, context, "the ACD's JSON text becomes an object");
    assert.equal(m.guardAgentPush("offer", { queue: "help" }), null);
    assert.equal(m.guardAgentPush("closed", { interaction: "" }), null);
    assert.deepEqual(m.guardAgentPush("chat.receipt", { interaction: IX, by: "visitor", delivered_seq: 3, read_seq: 2 }),
                     { interaction: IX, by: "visitor", delivered_seq: 3, read_seq: 2 });
    assert.equal(m.guardAgentPush("agent_state", { reason: "x" }), null);
    assert.equal(m.guardAgentPush("chat.message", { interaction: IX, seq: -1 }), null);
  });

  it("reads the view with fallbacks", () => {
    const v = view([item({}), { state: "connected" }]);
    assert.equal(v.interactions.length, 1, "an item without an interaction is dropped");
    assert.deepEqual(v.dispositions, [...m.FALLBACK_DISPOSITIONS]);
    assert.deepEqual(view([], { dispositions: ["resolved"] }).dispositions, ["resolved"]);
    assert.equal(m.parseContext("{broken").constructor, Object);
  });

  it("takes the visitor's receipts from chat.sync", () => {
    assert.deepEqual(m.parseReceipts({ visitor: { delivered_seq: 4, read_seq: 3 }, agent: { delivered_seq: 9, read_seq: 9 } },
                                     "visitor"), { delivered_seq: 4, read_seq: 3 });
    assert.deepEqual(m.parseReceipts(null, "visitor"), { delivered_seq: 0, read_seq: 0 });
  });

  it("reads queues and the agent roster", () => {
    const queues = m.parseQueues({ ok: true, queues: [{ _id: "help", name: "Help", offer_timeout_seconds: 20,
                                                        wrap_up_seconds: 30 }, { name: "no id" }] });
    assert.deepEqual([...queues.keys()], ["help"]);
    assert.equal(queues.get("help").wrapUpSeconds, 30);
    const agents = m.parseAgents({ agents: [{ username: "bob", display_name: "Bob", state: "available", takes: ["chat", 3] }] });
    assert.deepEqual(agents, [{ username: "bob", displayName: "Bob", state: "available", reason: "", takes: ["chat"] }]);
  });
});

describe("the chat model on the agent's side", () => {
  const msg = (seq, from, extra = {}) => ({ interaction: IX, seq, client_id: `c-${seq}`, from, name: from,
                                            text: `m${seq}`, at: 1_700_000_000 + seq, ...extra });

  it("own pending messages are the agent's; receipts are the visitor's", () => {
    const log = new m.ChatLog("agent");
    log.merge(msg(1, "visitor"));
    const mine = log.addPending({ client_id: "mine", text: "hi", at: Date.now() }, "");
    assert.equal(mine.from, "agent");
    log.acked("mine", 2, 1_700_000_002);
    log.merge(msg(3, "visitor"));
    assert.equal(log.lastPeerSeq(), 3);
    assert.equal(log.lastSeqFrom("agent"), 2);
    log.setReceipts({ delivered_seq: 2, read_seq: 0 });
    assert.equal(log.delivery(log.entries()[1]), "delivered");
  });

  it("the visitor's side is unchanged", () => {
    const log = new m.ChatLog();
    assert.equal(log.addPending({ client_id: "x", text: "t", at: 1 }, "").from, "visitor");
    log.merge(msg(1, "agent"));
    assert.equal(log.lastPeerSeq(), 1);
  });

  it("the console's outbox never shares keys with the widget's, and clears", () => {
    const data = new Map();
    const storage = { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, v), removeItem: (k) => data.delete(k) };
    const widget = new m.Outbox(storage, IX);
    const console_ = new m.Outbox(storage, IX, "engage.console.ann.outbox.");
    console_.add({ client_id: "a", text: "agent", at: 1 });
    assert.deepEqual(widget.list(), []);
    assert.deepEqual(new m.Outbox(storage, IX, "engage.console.ann.outbox.").list().map((p) => p.text), ["agent"]);
    console_.clear();
    assert.equal(data.size, 0);
  });
});
