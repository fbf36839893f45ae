// Unit tests of the widget's phase machine (web_widget/ts/widget/phase.ts): the moves allowed,
// what a queue status, a hello answer and a contact answer mean in each phase; and the push
// gate (push_gate.ts) that holds pushes overtaking the answer that names their interaction.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bundled = await build({
  stdin: { contents: 'export * from "./web_widget/ts/widget/phase"; export * from "./web_widget/ts/widget/push_gate";',
           resolveDir: root, loader: "ts" },
  bundle: true, format: "esm", target: "es2020", platform: "neutral", write: false,
});
const m = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);

const PHASES = ["idle", "queued", "chat", "ended", "unavailable"];
const IX = "ix0000000001";
const OTHER = "ix0000000002";

describe("widget phases", () => {
  it("lists every phase with its moves, and only a chat cannot go straight back to the start form", () => {
    assert.deepEqual(Object.keys(m.MOVES).sort(), [...PHASES].sort());
    for (const from of PHASES) {
      for (const to of PHASES) assert.equal(m.canMove(from, to), !(from === "chat" && to === "idle"), `${from} → ${to}`);
    }
  });

  it("move() keeps the phase (and says so) when the move is not allowed", () => {
    const errors = [];
    const original = console.error;
    console.error = (text) => errors.push(text);
    try {
      assert.equal(m.move("chat", "idle"), "chat");
      assert.equal(m.move("chat", "ended"), "ended");
    } finally {
      console.error = original;
    }
    assert.deepEqual(errors, ["engage: the widget cannot go from chat to idle"]);
  });

  it("knows the waiting states", () => {
    for (const state of ["new", "queued", "offered", "transferred"]) assert.equal(m.isWaiting(state), true);
    for (const state of ["connected", "wrap_up", "completed", "abandoned", "timed_out"]) assert.equal(m.isWaiting(state), false);
  });

  it("turns a queue status into chat, unavailable, queue, a recheck of a stale one, or nothing", () => {
    const status = (state, interaction = IX) => ({ interaction, state });
    assert.equal(m.statusStep("queued", IX, status("connected")), "chat");
    assert.equal(m.statusStep("queued", IX, status("timed_out")), "unavailable");
    assert.equal(m.statusStep("queued", IX, status("offered")), "queue");
    assert.equal(m.statusStep("idle", null, status("queued")), "queue");
    assert.equal(m.statusStep("chat", IX, status("queued")), "recheck", "a waiting status after connected may be stale");
    assert.equal(m.statusStep("chat", IX, status("transferred", OTHER)), "queue");
    assert.equal(m.statusStep("queued", IX, status("completed")), "ignore");
  });

  it("restores from visit.hello: the active interaction's state, else ends what was on screen", () => {
    assert.equal(m.helloStep("idle", { interaction: IX, state: "queued" }), "queue");
    assert.equal(m.helloStep("idle", { interaction: IX, state: "connected" }), "chat");
    assert.equal(m.helloStep("chat", { interaction: IX, state: "wrap_up" }), "ended");
    assert.equal(m.helloStep("chat", null), "ended");
    assert.equal(m.helloStep("queued", null), "cancelled");
    assert.equal(m.helloStep("queued", { interaction: "", state: "queued" }), "cancelled");
    for (const phase of ["idle", "ended", "unavailable"]) assert.equal(m.helloStep(phase, null), "stay");
  });

  it("takes a contact answer unless a push about the same interaction overtook it", () => {
    assert.equal(m.answerStep("idle", null, { interaction: IX, state: "queued" }), "queue");
    assert.equal(m.answerStep("idle", null, { interaction: IX }), "queue");
    assert.equal(m.answerStep("idle", null, { interaction: IX, state: "connected" }), "chat");
    assert.equal(m.answerStep("chat", IX, { interaction: IX, state: "queued" }), "stale");
    assert.equal(m.answerStep("ended", IX, { interaction: IX, state: "connected" }), "stale");
    assert.equal(m.answerStep("ended", IX, { interaction: OTHER, state: "queued" }), "queue");
  });

  it("cancels back to the start form only while waiting; prompts only when idle, closed and not opted out", () => {
    assert.equal(m.afterCancel("queued"), "idle");
    assert.equal(m.afterCancel("chat"), "ended");
    assert.equal(m.mayPrompt("idle", false, false), true);
    assert.equal(m.mayPrompt("idle", true, false), false);
    assert.equal(m.mayPrompt("idle", false, true), false);
    for (const phase of ["queued", "chat", "ended", "unavailable"]) assert.equal(m.mayPrompt(phase, false, false), false);
  });
});

describe("PushGate", () => {
  it("handles pushes of the current interaction (or of none) at once, drops others when no answer is awaited", () => {
    const state = { ix: IX };
    const gate = new m.PushGate(() => state.ix);
    const seen = [];
    gate.route({ interaction: IX, n: 1 }, (p) => seen.push(p.n));
    gate.route({ n: 2 }, (p) => seen.push(p.n));
    gate.route({ interaction: OTHER, n: 3 }, (p) => seen.push(p.n));
    assert.deepEqual(seen, [1, 2]);
  });

  it("holds pushes that overtook an awaited answer and replays those of the interaction it named", async () => {
    const state = { ix: null };
    const gate = new m.PushGate(() => state.ix);
    const seen = [];
    let answer;
    const pending = gate.answered(new Promise((resolve) => { answer = resolve; }), (ack) => {
      state.ix = ack.interaction;
      seen.push("answer");
      return "outcome";
    });
    gate.route({ interaction: IX, n: 1 }, (p) => seen.push(p.n));
    gate.route({ interaction: OTHER, n: 2 }, (p) => seen.push(p.n));
    answer({ interaction: IX });
    assert.equal(await pending, "outcome");
    assert.deepEqual(seen, ["answer", 1]);
    gate.route({ interaction: OTHER, n: 3 }, (p) => seen.push(p.n));
    assert.deepEqual(seen, ["answer", 1], "nothing held once the answer is in");
  });

  it("holds at most EARLY_PUSH_CAP pushes", async () => {
    const state = { ix: null };
    const gate = new m.PushGate(() => state.ix);
    let count = 0;
    let answer;
    const pending = gate.answered(new Promise((resolve) => { answer = resolve; }), () => { state.ix = IX; });
    for (let i = 0; i < m.EARLY_PUSH_CAP + 10; i += 1) gate.route({ interaction: IX }, () => { count += 1; });
    answer({});
    await pending;
    assert.equal(count, m.EARLY_PUSH_CAP);
  });
});
