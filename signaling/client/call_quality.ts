/**
 * Call quality from `RTCPeerConnection.getStats()` samples (pure: no DOM, no timers): round
 * trip time of the selected candidate pair, packet loss between two samples, jitter, video
 * frames received and decoded, and a good/fair/poor verdict. The previous sample's counters
 * are the only state, and the caller keeps them.
 */

export type QualityLevel = "good" | "fair" | "poor" | "unknown";

/** One entry of an RTCStatsReport (only the fields read here matter). */
export interface StatEntry {
  id: string;
  type: string;
  [field: string]: unknown;
}

/** What one sample leaves for the next: cumulative counters per inbound stream. */
export interface QualityCounters {
  inbound: Readonly<Record<string, { lost: number; received: number }>>;
}

export interface CallQuality {
  /** Round trip time of the selected candidate pair, ms (null before it is measured). */
  rttMs: number | null;
  /** Inbound packets lost since the previous sample, % (null when nothing arrived). */
  lossPct: number | null;
  /** The worst inbound jitter, ms (null without inbound RTP). */
  jitterMs: number | null;
  /** Video frames received and decoded so far (all inbound video streams). */
  framesReceived: number;
  framesDecoded: number;
  level: QualityLevel;
}

/**
 * Thresholds of the verdict. Good: a conversation feels natural (ITU-T G.114 puts 150 ms
 * one-way, i.e. ~300 ms round trip, as the limit for most interactive use; 1–2 % loss is
 * concealed by Opus). Poor: speech breaks up or talk-over starts.
 */
export const THRESHOLDS = {
  good: { rttMs: 300, lossPct: 2, jitterMs: 30 },
  poor: { rttMs: 600, lossPct: 8, jitterMs: 80 },
} as const;

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** The candidate pair in use: the transport's selected pair, else a nominated succeeded one. */
function selectedPair(entries: readonly StatEntry[]): StatEntry | undefined {
  const byId = new Map(entries.map((e) => [e.id, e]));
  for (const e of entries) {
    if (e.type !== "transport" || typeof e["selectedCandidatePairId"] !== "string") continue;
    const pair = byId.get(e["selectedCandidatePairId"]);
    if (pair !== undefined) return pair;
  }
  return entries.find((e) => e.type === "candidate-pair" && e["nominated"] === true
                              && e["state"] === "succeeded")
    ?? entries.find((e) => e.type === "candidate-pair" && e["selected"] === true);
}

export function qualityLevel(rttMs: number | null, lossPct: number | null,
                             jitterMs: number | null): QualityLevel {
  if (rttMs === null && lossPct === null && jitterMs === null) return "unknown";
  const over = (value: number | null, limit: number): boolean => value !== null && value > limit;
  const { good, poor } = THRESHOLDS;
  if (over(rttMs, poor.rttMs) || over(lossPct, poor.lossPct) || over(jitterMs, poor.jitterMs)) {
    return "poor";
  }
  if (over(rttMs, good.rttMs) || over(lossPct, good.lossPct) || over(jitterMs, good.jitterMs)) {
    return "fair";
  }
  return "good";
}

/**
 * The quality now, from the entries of one getStats() report and the counters of the previous
 * sample (null for the first). Counters that went down (a stream restarted) count from zero.
 */
export function readQuality(report: Iterable<StatEntry>, previous: QualityCounters | null,
): { quality: CallQuality; counters: QualityCounters } {
  const entries = [...report];
  const pair = selectedPair(entries);
  const rtt = pair === undefined ? null : num(pair["currentRoundTripTime"]);

  const inbound: Record<string, { lost: number; received: number }> = {};
  let lostDelta = 0;
  let receivedDelta = 0;
  let jitter: number | null = null;
  let framesReceived = 0;
  let framesDecoded = 0;
  for (const e of entries) {
    if (e.type !== "inbound-rtp") continue;
    const lost = Math.max(0, num(e["packetsLost"]) ?? 0);
    const received = Math.max(0, num(e["packetsReceived"]) ?? 0);
    inbound[e.id] = { lost, received };
    const before = previous?.inbound[e.id];
    const restarted = before !== undefined && (lost < before.lost || received < before.received);
    lostDelta += before === undefined || restarted ? lost : lost - before.lost;
    receivedDelta += before === undefined || restarted ? received : received - before.received;
    const j = num(e["jitter"]);
    if (j !== null) jitter = Math.max(jitter ?? 0, j);
    if (e["kind"] === "video" || e["mediaType"] === "video") {
      framesReceived += num(e["framesReceived"]) ?? 0;
      framesDecoded += num(e["framesDecoded"]) ?? 0;
    }
  }
  const total = lostDelta + receivedDelta;
  const lossPct = total > 0 ? Math.round((lostDelta / total) * 1000) / 10 : null;
  const rttMs = rtt === null ? null : Math.round(rtt * 1000);
  const jitterMs = jitter === null ? null : Math.round(jitter * 1000);
  return {
    quality: { rttMs, lossPct, jitterMs, framesReceived, framesDecoded,
               level: qualityLevel(rttMs, lossPct, jitterMs) },
    counters: { inbound },
  };
}

/** "RTT 42 ms · loss 0.5 % · jitter 3 ms" (parts not measured yet are left out). */
export function describeQuality(q: CallQuality): string {
  const parts: string[] = [];
  if (q.rttMs !== null) parts.push(`RTT ${q.rttMs} ms`);
  if (q.lossPct !== null) parts.push(`loss ${q.lossPct.toFixed(1)} %`);
  if (q.jitterMs !== null) parts.push(`jitter ${q.jitterMs} ms`);
  return parts.join(" · ");
}
