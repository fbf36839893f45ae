// Unit tests of the call client (signaling/client/call_line.ts, call.ts, call_media.ts) with an
// in-memory socket, peer connection and media devices: consent before capture, who offers
// (agent peer to peer, both sides to the server on a recorded call), trickle ICE and its
// buffering, ICE restarts, media switches, and devices released at the end.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { afterEach, describe, it } from "node:test";

import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bundled = await build({
  stdin: { contents: 'export * from "./signaling/client/call_line"; export * from "./signaling/client/call_protocol";',
           resolveDir: root, loader: "ts" },
  bundle: true, format: "esm", target: "es2020", platform: "neutral", write: false,
});

// -- browser stand-ins ----------------------------------------------------------------------
let trackIds = 0;
class FakeTrack {
  constructor(kind, deviceId = "") {
    this.kind = kind;
    this.id = `t${++trackIds}`;
    this.enabled = true;
    this.readyState = "live";
    this.deviceId = deviceId;
  }
  stop() { this.readyState = "ended"; }
  getSettings() { return { deviceId: this.deviceId }; }
  addEventListener() {}
}

class FakeStream {
  constructor(tracks = []) { this.tracks = [...tracks]; }
  addTrack(t) { if (!this.tracks.includes(t)) this.tracks.push(t); }
  removeTrack(t) { this.tracks = this.tracks.filter((x) => x !== t); }
  getTracks() { return [...this.tracks]; }
  getAudioTracks() { return this.tracks.filter((t) => t.kind === "audio"); }
  getVideoTracks() { return this.tracks.filter((t) => t.kind === "video"); }
}

globalThis.MediaStream = FakeStream;
globalThis.window = { addEventListener() {}, removeEventListener() {} };
Object.defineProperty(globalThis, "navigator", { value: {}, configurable: true, writable: true });

const m = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);

const peers = [];
class FakePeer {
  constructor(config) {
    this.config = config;
    this.transceivers = [];
    this.signalingState = "stable";
    this.connectionState = "new";
    this.iceGatheringState = "new";
    this.localDescription = null;
    this.remoteDescription = null;
    this.listeners = new Map();
    this.offers = [];
    this.candidates = [];
    this.closed = false;
    peers.push(this);
  }
  addEventListener(type, f) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(f);
  }
  removeEventListener(type, f) {
    this.listeners.set(type, (this.listeners.get(type) ?? []).filter((x) => x !== f));
  }
  emit(type, event = {}) { for (const f of this.listeners.get(type) ?? []) f(event); }
  addTransceiver(trackOrKind, init) {
    const kind = typeof trackOrKind === "string" ? trackOrKind : trackOrKind.kind;
    const t = {
      mid: String(this.transceivers.length), direction: init.direction, currentDirection: null,
      receiver: { track: new FakeTrack(kind) },
      sender: { track: typeof trackOrKind === "string" ? null : trackOrKind,
                async replaceTrack(track) { this.track = track; } },
    };
    this.transceivers.push(t);
    return t;
  }
  getTransceivers() { return this.transceivers; }
  async createOffer(options = {}) {
    this.offers.push(options);
    return { type: "offer", sdp: `v=0 offer ${this.offers.length}${options.iceRestart ? " restart" : ""}` };
  }
  async createAnswer() { return { type: "answer", sdp: "v=0 answer" }; }
  async setLocalDescription(d) {
    if (d.type === "rollback") {
      this.signalingState = "stable";
      this.localDescription = null;
      return;
    }
    this.localDescription = d;
    this.signalingState = d.type === "offer" ? "have-local-offer" : "stable";
  }
  async setRemoteDescription(d) {
    this.remoteDescription = d;
    if (d.type !== "offer") {
      this.signalingState = "stable";
      return;
    }
    this.signalingState = "have-remote-offer";
    for (const kind of ["audio", "video"]) {
      if (d.sdp.includes(kind) && !this.transceivers.some((t) => t.receiver.track.kind === kind)) {
        this.addTransceiver(kind, { direction: "recvonly" });
      }
    }
  }
  async addIceCandidate(c) { this.candidates.push(c ?? null); }
  async getStats() { return new Map(); }
  close() {
    this.closed = true;
    this.connectionState = "closed";
  }
}

function fakeDevices() {
  return {
    asked: [],
    tracks: [],
    async getUserMedia(constraints) {
      const kind = constraints.audio ? "audio" : "video";
      this.asked.push(kind);
      const track = new FakeTrack(kind, `${kind}-1`);
      this.tracks.push(track);
      return new FakeStream([track]);
    },
    async enumerateDevices() {
      return [{ kind: "audioinput", deviceId: "audio-1", label: "Mic" },
              { kind: "videoinput", deviceId: "video-1", label: "Cam" }];
    },
    addEventListener() {},
    removeEventListener() {},
  };
}

/** A socket.io-client stand-in: acks from `answers` (default ok), pushes delivered by `push`. */
function fakeSocket(answers = {}) {
  const handlers = new Map();
  return {
    sent: [],
    connected: true,
    timeout() {
      return {
        emitWithAck: async (event, payload) => {
          this.sent.push({ event, payload });
          const answer = answers[event];
          return typeof answer === "function" ? answer(payload) : answer ?? { ok: true };
        },
      };
    },
    on(event, f) {
      if (!handlers.has(event)) handlers.set(event, []);
      handlers.get(event).push(f);
    },
    off(event, f) { handlers.set(event, (handlers.get(event) ?? []).filter((x) => x !== f)); },
    push(event, payload) { for (const f of handlers.get(event) ?? []) f(payload); },
    signals() { return this.sent.filter((s) => s.event === "call.signal").map((s) => s.payload); },
  };
}

const flush = async () => {
  for (let i = 0; i < 20; i += 1) await new Promise((resolve) => setImmediate(resolve));
};

const IX = "ix0000000001";
const CALL = "call_abcdefghijklmnopqrstuv";
const lines = [];

function line(side, socket, devices = fakeDevices(), extra = {}) {
  const created = new m.CallLine({ side, interaction: IX, socket, iceServers: async () => [], devices,
                                   autoCamera: side === "agent", resumeOnConnect: false,
                                   peer: (config) => new FakePeer(config), ...extra });
  lines.push(created);
  return created;
}

const proposed = (fields = {}) => ({ call: CALL, interaction: IX, media: "video", by: "agent", record: false,
                                     ...fields });

afterEach(() => {
  for (const l of lines.splice(0)) l.dispose();
  peers.splice(0);
});

describe("consent", () => {
  it("starts the visitor's camera and microphone only on their accept", async () => {
    const devices = fakeDevices();
    const socket = fakeSocket({ "call.consent": { ok: true, call: CALL, state: "accepted", record: false } });
    const visitor = line("visitor", socket, devices);
    socket.push("call.proposed", proposed({ record: true }));
    assert.equal(visitor.snapshot.state, "ringing");
    assert.equal(visitor.snapshot.incoming, true);
    assert.equal(visitor.snapshot.record, true, "the queue records: the prompt asks");
    await flush();
    assert.deepEqual(devices.asked, [], "nothing captured while ringing");

    assert.equal(await visitor.accept(false), null);
    assert.deepEqual(devices.asked, ["audio", "video"]);
    const consent = socket.sent.find((s) => s.event === "call.consent");
    assert.deepEqual(consent.payload, { call: CALL, accept: true, record_consent: false });
    await flush();
    assert.equal(peers.length, 1);
    assert.deepEqual(peers[0].offers, [], "peer to peer the visitor answers");
  });

  it("a declined proposal captures nothing and ends", async () => {
    const devices = fakeDevices();
    const socket = fakeSocket();
    const visitor = line("visitor", socket, devices);
    socket.push("call.proposed", proposed());
    await visitor.decline();
    assert.deepEqual(socket.sent.map((s) => s.payload), [{ call: CALL, accept: false }]);
    assert.equal(visitor.snapshot.state, "ended");
    assert.equal(visitor.snapshot.endReason, "declined");
    assert.deepEqual(devices.asked, []);
  });

  it("ignores pushes of other interactions and its own side's proposals", () => {
    const socket = fakeSocket();
    const visitor = line("visitor", socket);
    socket.push("call.proposed", proposed({ interaction: "ix0000000002" }));
    socket.push("call.proposed", proposed({ by: "visitor" }));
    socket.push("call.proposed", { call: CALL, interaction: IX, media: "fax", by: "agent" });
    assert.equal(visitor.snapshot.state, "idle");
  });

  it("both propose at once: the one refused rings for the other's proposal", async () => {
    let refuse;
    const socket = fakeSocket({ "call.propose": () => new Promise((resolve) => { refuse = resolve; }) });
    const agent = line("agent", socket);
    const proposing = agent.propose("audio");
    await flush();
    socket.push("call.proposed", proposed({ by: "visitor", media: "video" }));
    refuse({ ok: false, code: "call_in_progress", message: "This conversation already has a call." });
    assert.equal(await proposing, "call_in_progress");
    assert.equal(agent.snapshot.state, "ringing");
    assert.equal(agent.snapshot.incoming, true);
    assert.equal(agent.snapshot.call, CALL);
  });

  it("the agent never sends record_consent; the visitor's proposal carries theirs", async () => {
    const socket = fakeSocket({ "call.propose": { ok: true, call: CALL, record: true } });
    await line("agent", socket).propose("audio");
    const visitorSocket = fakeSocket({ "call.propose": { ok: true, call: CALL, record: true } });
    await line("visitor", visitorSocket).propose("video", true);
    assert.deepEqual(socket.sent[0].payload, { interaction: IX, media: "audio" });
    assert.deepEqual(visitorSocket.sent[0].payload, { interaction: IX, media: "video", record_consent: true });
  });

  it("knows before any call whether the queue records, as the widget learns it", () => {
    const visitor = line("visitor", fakeSocket());
    const seen = [];
    visitor.onChange((s) => seen.push(s.queueRecords));
    visitor.setQueueRecords(true);
    visitor.setQueueRecords(true);
    assert.equal(visitor.snapshot.queueRecords, true);
    assert.equal(visitor.snapshot.state, "idle");
    assert.deepEqual(seen, [null, true], "one change, one render");
  });
});

describe("peer to peer", () => {
  async function agentInCall(socket, devices = fakeDevices(), media = "audio") {
    const agent = line("agent", socket, devices);
    await agent.propose(media);
    socket.push("call.accepted", proposed({ media, by: "visitor" }));
    await flush();
    return { agent, peer: peers.at(-1) };
  }

  it("the agent offers, then trickles candidates and the end of candidates", async () => {
    const socket = fakeSocket({ "call.propose": { ok: true, call: CALL, record: false } });
    const { peer } = await agentInCall(socket);
    peer.emit("icecandidate", { candidate: { candidate: "candidate:1 1 udp 1 192.0.2.1 5000 typ host", sdpMid: "0",
                                             sdpMLineIndex: 0, usernameFragment: null } });
    peer.emit("icecandidate", { candidate: null });
    await flush();
    const signals = socket.signals();
    assert.deepEqual(signals.map((s) => s.kind), ["offer", "ice", "ice"]);
    assert.equal(signals[0].sdp, "v=0 offer 1");
    assert.deepEqual(signals[1].candidate, { candidate: "candidate:1 1 udp 1 192.0.2.1 5000 typ host", sdpMid: "0",
                                             sdpMLineIndex: 0 });
    assert.deepEqual(signals[2].candidate, { candidate: "" });
    assert.ok(signals.every((s) => s.call === CALL));
  });

  it("candidates that come before the answer wait for it", async () => {
    const socket = fakeSocket({ "call.propose": { ok: true, call: CALL, record: false } });
    const { peer } = await agentInCall(socket);
    const ice = { call: CALL, interaction: IX, from: "visitor", kind: "ice",
                  candidate: { candidate: "candidate:2 1 udp 1 192.0.2.2 5000 typ host", sdpMid: "0" } };
    socket.push("call.signal", ice);
    await flush();
    assert.deepEqual(peer.candidates, []);
    socket.push("call.signal", { call: CALL, interaction: IX, from: "visitor", kind: "answer", sdp: "v=0 answer" });
    await flush();
    assert.equal(peer.remoteDescription.sdp, "v=0 answer");
    assert.deepEqual(peer.candidates, [ice.candidate]);
  });

  it("a signal that overtakes the visitor's consent ack is kept for the session", async () => {
    let release;
    const socket = fakeSocket({ "call.consent": () => new Promise((resolve) => { release = resolve; }) });
    const visitor = line("visitor", socket);
    socket.push("call.proposed", proposed({ media: "audio" }));
    const accepting = visitor.accept();
    await flush();
    socket.push("call.signal", { call: CALL, interaction: IX, from: "agent", kind: "offer", sdp: "v=0 audio" });
    release({ ok: true, call: CALL, state: "accepted", record: false });
    await accepting;
    await flush();
    const answer = socket.signals().find((s) => s.kind === "answer");
    assert.equal(answer.sdp, "v=0 answer");
    const audio = peers[0].transceivers[0];
    assert.equal(audio.direction, "sendrecv");
    assert.equal(audio.sender.track.kind, "audio");
  });

  it("the visitor's restart request makes the agent re-offer with iceRestart", async () => {
    const socket = fakeSocket({ "call.propose": { ok: true, call: CALL, record: false } });
    const { peer } = await agentInCall(socket);
    socket.push("call.signal", { call: CALL, interaction: IX, from: "visitor", kind: "answer", sdp: "v=0 answer" });
    await flush();
    socket.push("call.signal", { call: CALL, interaction: IX, from: "visitor", kind: "restart" });
    await flush();
    assert.deepEqual(peer.offers.at(-1), { iceRestart: true });
    assert.equal(socket.signals().at(-1).sdp, "v=0 offer 2 restart");
  });

  it("a failed connection: the visitor asks for a restart, at most once per interval", async () => {
    const socket = fakeSocket({ "call.consent": { ok: true, call: CALL, state: "accepted", record: false } });
    const visitor = line("visitor", socket);
    socket.push("call.proposed", proposed({ media: "audio" }));
    await visitor.accept();
    await flush();
    const peer = peers.at(-1);
    peer.connectionState = "failed";
    peer.emit("connectionstatechange");
    peer.emit("connectionstatechange");
    await flush();
    assert.equal(visitor.snapshot.state, "reconnecting");
    assert.equal(socket.signals().filter((s) => s.kind === "restart").length, 1);
    visitor.resume(); // after a reconnect: at once
    await flush();
    assert.equal(socket.signals().filter((s) => s.kind === "restart").length, 2);
    peer.connectionState = "connected";
    peer.emit("connectionstatechange");
    assert.equal(visitor.snapshot.state, "connected");
  });

  it("video from the visitor: the agent's camera follows and it re-offers", async () => {
    const devices = fakeDevices();
    const socket = fakeSocket({ "call.propose": { ok: true, call: CALL, record: false } });
    const { agent, peer } = await agentInCall(socket, devices);
    socket.push("call.signal", { call: CALL, interaction: IX, from: "visitor", kind: "answer", sdp: "v=0 answer" });
    await flush();
    socket.push("call.media", { call: CALL, interaction: IX, media: "video", by: "visitor" });
    await flush();
    assert.deepEqual(devices.asked, ["audio", "video"]);
    const video = peer.transceivers.find((t) => t.receiver.track.kind === "video");
    assert.equal(video.direction, "sendrecv");
    assert.equal(socket.signals().filter((s) => s.kind === "offer").length, 2);
    assert.equal(agent.snapshot.sendingVideo, true);

    await agent.switchMedia("audio");
    await flush();
    assert.equal(video.direction, "inactive");
    assert.equal(video.sender.track, null);
    assert.equal(devices.tracks.find((t) => t.kind === "video").readyState, "ended");
  });

  it("video from the agent does not start the visitor's camera", async () => {
    const devices = fakeDevices();
    const socket = fakeSocket({ "call.consent": { ok: true, call: CALL, state: "accepted", record: false } });
    const visitor = line("visitor", socket, devices);
    socket.push("call.proposed", proposed({ media: "audio" }));
    await visitor.accept();
    socket.push("call.media", { call: CALL, interaction: IX, media: "video", by: "agent" });
    await flush();
    assert.equal(visitor.snapshot.media, "video");
    assert.deepEqual(devices.asked, ["audio"]);
    await visitor.setCameraOff(false); // the visitor's own click
    assert.deepEqual(devices.asked, ["audio", "video"]);
    assert.ok(socket.sent.some((s) => s.event === "call.media" && s.payload.media === "video"),
              "asks the agent to offer again");
  });
});

describe("recorded calls", () => {
  it("each side offers the server one complete description, without trickle", async () => {
    const socket = fakeSocket({ "call.consent": { ok: true, call: CALL, state: "accepted", record: true } });
    const visitor = line("visitor", socket);
    socket.push("call.proposed", proposed({ record: true }));
    await visitor.accept(true);
    assert.equal(socket.sent[0].payload.record_consent, true);
    await flush();
    const peer = peers.at(-1);
    assert.equal(peer.offers.length, 1, "the visitor offers too");
    peer.emit("icecandidate", { candidate: { candidate: "candidate:1 1 udp 1 192.0.2.1 5000 typ host", sdpMid: "0" } });
    await flush();
    assert.deepEqual(socket.signals(), [], "nothing before ICE gathering completes");
    peer.iceGatheringState = "complete";
    peer.emit("icegatheringstatechange");
    await flush();
    assert.deepEqual(socket.signals().map((s) => s.kind), ["offer"]);

    socket.push("call.signal", { call: CALL, interaction: IX, from: "agent", kind: "answer", sdp: "v=0 not for you" });
    await flush();
    assert.equal(peer.remoteDescription, null, "only the server answers on a recorded call");
    socket.push("call.signal", { call: CALL, interaction: IX, from: "server", kind: "answer", sdp: "v=0 server" });
    await flush();
    assert.equal(peer.remoteDescription.sdp, "v=0 server");
    assert.equal(visitor.snapshot.record, true);
  });

  it("an ICE restart is a new complete offer to the server", async () => {
    const socket = fakeSocket({ "call.propose": { ok: true, call: CALL, record: true } });
    const agent = line("agent", socket);
    await agent.propose("audio");
    socket.push("call.accepted", proposed({ media: "audio", by: "visitor", record: true }));
    await flush();
    const peer = peers.at(-1);
    peer.iceGatheringState = "complete";
    peer.emit("icegatheringstatechange");
    await flush();
    socket.push("call.signal", { call: CALL, interaction: IX, from: "server", kind: "answer", sdp: "v=0 server" });
    await flush();
    agent.resume();
    await flush();
    assert.deepEqual(peer.offers.at(-1), { iceRestart: true });
    assert.deepEqual(socket.signals().map((s) => s.kind), ["offer", "offer"]);
  });
});

describe("the end", () => {
  it("call.ended closes the connection and stops every local track", async () => {
    const devices = fakeDevices();
    const socket = fakeSocket({ "call.propose": { ok: true, call: CALL, record: false } });
    const agent = line("agent", socket, devices);
    await agent.propose("video");
    socket.push("call.accepted", proposed({ by: "visitor" }));
    await flush();
    socket.push("call.ended", { call: CALL, interaction: IX, by: "visitor", reason: "hangup" });
    assert.equal(agent.snapshot.state, "ended");
    assert.equal(agent.snapshot.endedBy, "visitor");
    assert.ok(peers.at(-1).closed);
    assert.ok(devices.tracks.length === 2 && devices.tracks.every((t) => t.readyState === "ended"));
  });

  it("hang-up releases the devices before the server answers; a refused signal ends the call", async () => {
    const devices = fakeDevices();
    const socket = fakeSocket({ "call.propose": { ok: true, call: CALL, record: false },
                                "call.signal": { ok: false, code: "call_ended", message: "ended" } });
    const agent = line("agent", socket, devices);
    await agent.propose("audio");
    socket.push("call.accepted", proposed({ media: "audio", by: "visitor" }));
    await flush();
    assert.equal(agent.snapshot.state, "ended", "the offer was refused: call_ended");
    assert.equal(devices.tracks[0].readyState, "ended");

    const again = fakeDevices();
    const other = line("agent", fakeSocket({ "call.propose": { ok: true, call: CALL, record: false } }), again);
    await other.propose("audio");
    const hanging = other.hangup();
    assert.equal(again.tracks[0].readyState, "ended");
    assert.equal(other.snapshot.state, "ended");
    assert.equal(await hanging, null);
  });

  it("a camera that starts after the call ended is stopped at once", async () => {
    const devices = fakeDevices();
    const slow = devices.getUserMedia.bind(devices);
    let grant;
    devices.getUserMedia = (constraints) => new Promise((resolve) => { grant = () => resolve(slow(constraints)); });
    const socket = fakeSocket();
    const visitor = line("visitor", socket, devices);
    socket.push("call.proposed", proposed({ media: "audio" }));
    const accepting = visitor.accept();
    await flush();
    socket.push("call.ended", { call: CALL, interaction: IX, by: "agent", reason: "hangup" });
    grant();
    assert.equal(await accepting, null);
    assert.equal(devices.tracks[0].readyState, "ended");
    assert.ok(!socket.sent.some((s) => s.event === "call.consent"), "no consent for a call that ended");
    assert.equal(visitor.snapshot.endReason, "hangup");
  });

  it("dispose hangs up a ringing call and stops listening", async () => {
    const socket = fakeSocket({ "call.propose": { ok: true, call: CALL, record: false } });
    const agent = line("agent", socket);
    await agent.propose("audio");
    agent.dispose();
    assert.ok(socket.sent.some((s) => s.event === "call.hangup"));
    socket.push("call.proposed", proposed({ call: "call_other_call_other_call", by: "visitor" }));
    assert.equal(agent.snapshot.state, "ended");
  });
});

describe("protocol helpers", () => {
  it("checks signal pushes by kind", () => {
    const g = m.CALL_PUSH_GUARDS["call.signal"];
    assert.equal(g({ call: CALL, interaction: IX, from: "agent", kind: "offer" }), null, "an offer needs sdp");
    assert.equal(g({ call: CALL, interaction: IX, from: "mallory", kind: "restart" }), null);
    assert.deepEqual(g({ call: CALL, interaction: IX, from: "server", kind: "answer", sdp: "v=0", x: 1 }),
                     { call: CALL, interaction: IX, from: "server", kind: "answer", sdp: "v=0" });
    assert.deepEqual(g({ call: CALL, interaction: IX, from: "visitor", kind: "ice", candidate: { candidate: "" } }),
                     { call: CALL, interaction: IX, from: "visitor", kind: "ice", candidate: { candidate: "" } });
  });

  it("reads ICE servers and keeps them for half their lifetime", async () => {
    let loads = 0;
    let now = 0;
    const source = m.iceServerSource(async () => {
      loads += 1;
      return { ok: true, ttl: 600, ice_servers: [{ urls: ["stun:stun.example.test"] }, { urls: 5 },
        { urls: "turn:turn.example.test", username: "1:v", credential: "c" }] };
    }, () => now);
    assert.deepEqual(await source(), [{ urls: ["stun:stun.example.test"] },
                                      { urls: ["turn:turn.example.test"], username: "1:v", credential: "c" }]);
    now = 299_000;
    await source();
    assert.equal(loads, 1);
    now = 300_000;
    await source();
    assert.equal(loads, 2);
  });
});
