// Unit tests of signaling/client/call_quality.ts: RTT, loss between samples, jitter, video
// frames and the verdict, from getStats()-shaped entries (as Chromium reports them).

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bundled = await build({
  stdin: { contents: 'export * from "./signaling/client/call_quality";', resolveDir: root, loader: "ts" },
  bundle: true, format: "esm", target: "es2020", platform: "neutral", write: false,
});
const m = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);

const transport = (pair) => ({ id: "T01", type: "transport", selectedCandidatePairId: pair });
const pair = (id, rtt, extra = {}) => ({ id, type: "candidate-pair", state: "succeeded", nominated: true,
                                         currentRoundTripTime: rtt, ...extra });
const audioIn = (lost, received, jitter = 0.004) => ({
  id: "IT01A", type: "inbound-rtp", kind: "audio", packetsLost: lost, packetsReceived: received, jitter });
const videoIn = (lost, received, frames = {}) => ({
  id: "IT01V", type: "inbound-rtp", kind: "video", packetsLost: lost, packetsReceived: received, jitter: 0.01,
  framesReceived: 0, framesDecoded: 0, ...frames });

describe("readQuality", () => {
  it("takes the RTT of the transport's selected pair", () => {
    const { quality } = m.readQuality([transport("CP2"), pair("CP1", 0.9), pair("CP2", 0.042)], null);
    assert.equal(quality.rttMs, 42);
  });

  it("falls back to the nominated succeeded pair without a transport entry", () => {
    const { quality } = m.readQuality([pair("CP1", 0.9, { state: "failed" }), pair("CP3", 0.0125)], null);
    assert.equal(quality.rttMs, 13);
  });

  it("has no RTT, loss or jitter before anything is measured: unknown", () => {
    const { quality } = m.readQuality([{ id: "x", type: "codec" }], null);
    assert.deepEqual(quality, { rttMs: null, lossPct: null, jitterMs: null, framesReceived: 0,
                                framesDecoded: 0, level: "unknown" });
  });

  it("computes loss from the deltas since the previous sample, over all inbound streams", () => {
    const first = m.readQuality([audioIn(10, 990), videoIn(0, 1000)], null);
    assert.equal(first.quality.lossPct, 0.5, "first sample: cumulative counters (10 of 2000)");
    const second = m.readQuality([audioIn(30, 1970), videoIn(20, 1980)], first.counters);
    // deltas: lost 20 + 20 = 40, received 980 + 980 = 1960 -> 40 / 2000
    assert.equal(second.quality.lossPct, 2);
  });

  it("has no loss figure when no packet arrived in between", () => {
    const first = m.readQuality([audioIn(5, 500)], null);
    const again = m.readQuality([audioIn(5, 500)], first.counters);
    assert.equal(again.quality.lossPct, null);
  });

  it("counts a stream whose counters went down (restarted) from zero", () => {
    const first = m.readQuality([audioIn(50, 5000)], null);
    const restarted = m.readQuality([audioIn(1, 99)], first.counters);
    assert.equal(restarted.quality.lossPct, 1);
  });

  it("never counts negative loss (duplicates make packetsLost negative)", () => {
    const { quality } = m.readQuality([audioIn(-3, 100)], null);
    assert.equal(quality.lossPct, 0);
  });

  it("reports the worst jitter in ms and the video frames received and decoded", () => {
    const { quality } = m.readQuality([audioIn(0, 10, 0.004),
      videoIn(0, 10, { framesReceived: 120, framesDecoded: 118 })], null);
    assert.equal(quality.jitterMs, 10);
    assert.equal(quality.framesReceived, 120);
    assert.equal(quality.framesDecoded, 118);
  });

  it("reads video frames from older reports with mediaType", () => {
    const old = { id: "v", type: "inbound-rtp", mediaType: "video", packetsLost: 0, packetsReceived: 5,
                  framesDecoded: 7, framesReceived: 8 };
    const { quality } = m.readQuality([old], null);
    assert.equal(quality.framesDecoded, 7);
  });

  it("accepts any iterable, e.g. the values of a Map-like report", () => {
    const report = new Map([["T01", transport("CP1")], ["CP1", pair("CP1", 0.1)]]);
    assert.equal(m.readQuality(report.values(), null).quality.rttMs, 100);
  });
});

describe("qualityLevel", () => {
  const { good, poor } = m.THRESHOLDS;

  it("is good within every good threshold", () => {
    assert.equal(m.qualityLevel(good.rttMs, good.lossPct, good.jitterMs), "good");
    assert.equal(m.qualityLevel(20, 0, null), "good");
  });

  it("is fair past a good threshold and poor past a poor one", () => {
    assert.equal(m.qualityLevel(good.rttMs + 1, 0, 0), "fair");
    assert.equal(m.qualityLevel(10, good.lossPct + 0.1, 0), "fair");
    assert.equal(m.qualityLevel(10, 0, good.jitterMs + 1), "fair");
    assert.equal(m.qualityLevel(poor.rttMs + 1, 0, 0), "poor");
    assert.equal(m.qualityLevel(10, poor.lossPct + 0.1, 0), "poor");
    assert.equal(m.qualityLevel(10, 0, poor.jitterMs + 1), "poor");
  });

  it("the worst figure decides", () => {
    assert.equal(m.qualityLevel(good.rttMs + 1, poor.lossPct + 1, 0), "poor");
  });

  it("is unknown with nothing measured", () => {
    assert.equal(m.qualityLevel(null, null, null), "unknown");
  });

  it("readQuality applies it", () => {
    const first = m.readQuality([transport("CP1"), pair("CP1", 0.8), audioIn(0, 100)], null);
    assert.equal(first.quality.level, "poor");
  });
});

describe("describeQuality", () => {
  it("names the measured figures only", () => {
    assert.equal(m.describeQuality({ rttMs: 42, lossPct: 0.5, jitterMs: 3, framesReceived: 0, framesDecoded: 0,
                                     level: "good" }), "RTT 42 ms · loss 0.5 % · jitter 3 ms");
    assert.equal(m.describeQuality({ rttMs: 42, lossPct: null, jitterMs: null, framesReceived: 0, framesDecoded: 0,
                                     level: "good" }), "RTT 42 ms");
  });
});
