// Unit tests of signaling/client/visitor.ts and trail.ts (trail sanitiser, sensor config, push guards, E.164)
// and web_widget/ts/i18n.ts (every key in both languages).

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";

import { build } from "esbuild";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bundled = await build({
  stdin: { contents: 'export * from "./signaling/client/visitor"; export * from "./signaling/client/trail"; export * from "./web_widget/ts/i18n";',
           resolveDir: root, loader: "ts" },
  bundle: true, format: "esm", target: "es2020", platform: "neutral", write: false,
});
const m = await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`);

describe("E.164", () => {
  for (const good of ["+8613800138000", "+14155550100", "+4930123456", "+1234567"]) {
    it(`accepts ${good}`, () => assert.equal(m.normalizeE164(good), good));
  }
  it("accepts spaces, dashes, dots and brackets as typed", () => {
    assert.equal(m.normalizeE164(" +86 138-0013.8000 "), "+8613800138000");
    assert.equal(m.normalizeE164("+1 (415) 555-0100"), "+14155550100");
  });
  for (const bad of ["13800138000", "+0123456789", "+123456", "+1234567890123456", "+86 138 abc", "", "++8613800138000"]) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.equal(m.normalizeE164(bad), null));
  }
  it("the pattern is the one the brief and the server use", () => {
    assert.equal(m.E164.source, "^\\+[1-9]\\d{6,14}$");
  });
});

describe("sanitizeTrailEvent", () => {
  it("keeps exactly the schema's fields, cut and clamped", () => {
    const e = m.sanitizeTrailEvent({ type: "click", at: 5.4, url: "u", target: "t".repeat(200), x: 1e9, y: -3.6,
                                     value: "secret", extra: 1 });
    assert.deepEqual(e, { type: "click", at: 5, url: "u", target: "t".repeat(120), x: 100000, y: -4 });
  });

  it("refuses unknown types and missing required fields", () => {
    assert.equal(m.sanitizeTrailEvent({ type: "keystroke", at: 1 }), null);
    assert.equal(m.sanitizeTrailEvent({ type: "http_error", at: 1 }), null);
    assert.equal(m.sanitizeTrailEvent({ type: "signal", at: 1, kind: "mind_reading" }), null);
    assert.equal(m.sanitizeTrailEvent(null), null);
    assert.equal(m.sanitizeTrailEvent([]), null);
  });

  it("fills a missing `at` and drops wrong enums", () => {
    const e = m.sanitizeTrailEvent({ type: "page", nav: "teleport", title: "T" }, 1234);
    assert.deepEqual(e, { type: "page", at: 1234, title: "T" });
  });

  it("passes signals with their measurements", () => {
    const raw = { type: "signal", at: 9, url: "u", kind: "rage_click", count: 3, span_ms: 800, radius_px: 12, target: "b" };
    assert.deepEqual(m.sanitizeTrailEvent(raw), raw);
  });
});

describe("parseSensorConfig", () => {
  it("defaults are DESIGN.md's thresholds", () => {
    const c = m.parseSensorConfig(undefined);
    assert.equal(c.rage_click_count, 3);
    assert.equal(c.rage_click_window_ms, 1000);
    assert.equal(c.rage_click_radius_px, 30);
    assert.equal(c.dead_click_wait_ms, 2500);
    assert.equal(c.dead_click_scroll_ms, 100);
    assert.equal(c.error_click_window_ms, 1000);
    assert.equal(c.heartbeat_ms, 15000);
  });

  it("takes known sane values, ignores the rest", () => {
    const c = m.parseSensorConfig({ rage_click_count: 4, dead_click_wait_ms: -1, form_idle_ms: "9", bogus: 1,
                                    enabled: false });
    assert.equal(c.rage_click_count, 4);
    assert.equal(c.dead_click_wait_ms, 2500);
    assert.equal(c.form_idle_ms, m.DEFAULT_SENSORS.form_idle_ms);
    assert.equal(c.enabled, false);
    assert.equal("bogus" in c, false);
  });
});

describe("push guards", () => {
  it("drop malformed chat messages, keep good ones", () => {
    assert.equal(m.guardVisitorPush("chat.message", { seq: 1 }), null);
    assert.equal(m.guardVisitorPush("chat.message", { interaction: "ix1", seq: -1 }), null);
    const ok = m.guardVisitorPush("chat.message", { interaction: "ix1", seq: 2, client_id: "c", from: "agent",
                                                    name: "Ann", text: "<b>hi</b>", at: 1,
                                                    attachment: { id: "att_12345678", name: "a.pdf",
                                                                  content_type: "application/pdf", size: 3 } });
    assert.equal(ok.text, "<b>hi</b>");
    assert.equal(ok.attachment.id, "att_12345678");
    assert.equal(m.guardVisitorPush("chat.message", { interaction: "ix1", seq: 2, from: "root" }).from, "system");
  });

  it("read receipts flat or keyed by side", () => {
    assert.deepEqual(m.parseReceipts({ delivered_seq: 3, read_seq: 2 }), { delivered_seq: 3, read_seq: 2 });
    assert.deepEqual(m.parseReceipts({ agent: { delivered_seq: 5, read_seq: 4 } }), { delivered_seq: 5, read_seq: 4 });
    assert.deepEqual(m.parseReceipts(null), { delivered_seq: 0, read_seq: 0 });
  });

  it("invites keep per-language texts", () => {
    const p = m.guardVisitorPush("invite", { invite: "inv_12345678", rule: "r", queue: "q", text: { en: "Hi", zh: "您好", x: 1 } });
    assert.deepEqual(p.text, { en: "Hi", zh: "您好" });
    assert.equal(m.guardVisitorPush("invite", { text: "no id" }), null);
  });

  it("queue status keeps position and wait", () => {
    assert.deepEqual(m.guardVisitorPush("queue_status", { interaction: "ix1", state: "queued", position: 2,
                                                          estimated_wait_seconds: 90, reason: "overflow" }),
                     { interaction: "ix1", state: "queued", position: 2, estimated_wait_seconds: 90, reason: "overflow" });
  });

  it("epochMs takes seconds or milliseconds", () => {
    assert.equal(m.epochMs(1_700_000_000), 1_700_000_000_000);
    assert.equal(m.epochMs(1_700_000_000_000), 1_700_000_000_000);
  });
});

describe("i18n", () => {
  const en = m.STRINGS.en;
  const zh = m.STRINGS.zh;
  const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((x) => x[1]).sort();

  it("every key is present and non-empty in both languages", () => {
    assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
    for (const key of Object.keys(en)) {
      assert.ok(en[key].trim(), `en.${key}`);
      assert.ok(zh[key].trim(), `zh.${key}`);
    }
  });

  it("both languages use the same placeholders", () => {
    for (const key of Object.keys(en)) assert.deepEqual(placeholders(zh[key]), placeholders(en[key]), key);
  });

  it("translates with placeholders and the names the browser tests use", () => {
    const t = m.translator("en");
    assert.equal(t("queue_position", { n: 2 }), "You are number 2 in the queue.");
    assert.equal(t("launcher"), "Need help?");
    assert.equal(m.translator("zh")("launcher"), "需要帮助？");
    for (const [key, name] of [["send", "Send"], ["message_label", "Message"], ["accept", "Accept"],
                               ["start_chat", "Start chat"], ["rate", "Rate this chat"]]) {
      assert.equal(t(key), name);
    }
  });

  it("picks the language from data-lang, then the page, then the browser", () => {
    assert.equal(m.pickLang("zh", "en"), "zh");
    assert.equal(m.pickLang(undefined, "zh-CN"), "zh");
    assert.equal(m.pickLang("", "", "en-US"), "en");
    assert.equal(m.pickLang(undefined, null, "zh-TW"), "zh");
    assert.equal(m.pickLang(), "en");
  });
});
