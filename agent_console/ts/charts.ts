/**
 * Canvas charts of the marketing report: a lift-vs-support scatter (log axes, one colour per
 * rule kind) and a product x product heatmap (diverging colours around lift 1), each with
 * labelled axes and a legend. Pure drawing: data in, pixels out; no fetches, no DOM beyond
 * the canvas it is given.
 */

export interface Point {
  x: number;
  y: number;
  kind: string;
  label: string;
}

export const KIND_COLOURS: Record<string, string> = {
  product: "#1f6feb",
  product_sequence: "#d9480f",
  basket: "#2b8a3e",
};
export const KIND_LABELS: Record<string, string> = {
  product: "bought both",
  product_sequence: "bought B within the window after A",
  basket: "bought together the same day",
};
const FALLBACK_COLOUR = "#5b6475";
const AXIS = "#1d2433";
const GRID = "#e3e7ef";
const NO_RULE = "#f1f3f7";
const FONT = "12px system-ui, sans-serif";

/** Sizes the backing store for the device pixel ratio; returns a context in CSS pixels. */
export function setupCanvas(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.maxWidth = "100%";
  canvas.style.height = "auto";
  const ctx = canvas.getContext("2d");
  if (ctx === null) throw new Error("engage: no 2d canvas");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.font = FONT;
  return ctx;
}

/** Maps [lo, hi] (both > 0) logarithmically onto [from, to]. */
export function logScale(lo: number, hi: number, from: number, to: number): (v: number) => number {
  const a = Math.log10(lo);
  const span = Math.log10(hi) - a || 1;
  return (v) => from + ((Math.log10(v) - a) / span) * (to - from);
}

/** 1-2-5 ticks between lo and hi. */
export function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

/** A share as a percentage: 0.05 -> "5%", 0.002 -> "0.2%". */
export function formatShare(v: number): string {
  return `${Number((v * 100).toPrecision(2))}%`;
}

/** A ratio such as a lift: 2 -> "2", 0.25 -> "0.25". */
export function formatRatio(v: number): string {
  return String(Number(v.toPrecision(2)));
}

function bounds(values: number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? [lo / 2, hi * 2] : [lo / 1.15, hi * 1.15];
}

/** Support on a log x axis, lift on a log y axis, a dashed line at lift 1. */
export function drawScatter(canvas: HTMLCanvasElement, points: Point[], highlight = -1): void {
  const width = 640;
  const height = 400;
  const pad = { left: 64, right: 16, top: 16, bottom: 56 };
  const ctx = setupCanvas(canvas, width, height);
  const usable = points.filter((p) => p.x > 0 && p.y > 0);
  if (usable.length === 0) {
    ctx.fillStyle = AXIS;
    ctx.fillText("No rules to plot.", pad.left, height / 2);
    return;
  }
  const [x0, x1] = bounds(usable.map((p) => p.x));
  const [y0, y1] = bounds([...usable.map((p) => p.y), 1]);
  const sx = logScale(x0, x1, pad.left, width - pad.right);
  const sy = logScale(y0, y1, height - pad.bottom, pad.top);

  ctx.strokeStyle = GRID;
  ctx.fillStyle = AXIS;
  ctx.lineWidth = 1;
  ctx.textAlign = "center";
  for (const t of logTicks(x0, x1)) {
    const x = sx(t);
    ctx.beginPath();
    ctx.moveTo(x, pad.top);
    ctx.lineTo(x, height - pad.bottom);
    ctx.stroke();
    ctx.fillText(formatShare(t), x, height - pad.bottom + 16);
  }
  ctx.textAlign = "right";
  for (const t of logTicks(y0, y1)) {
    const y = sy(t);
    ctx.beginPath();
    ctx.moveTo(pad.left, y);
    ctx.lineTo(width - pad.right, y);
    ctx.stroke();
    ctx.fillText(formatRatio(t), pad.left - 6, y + 4);
  }
  ctx.strokeStyle = AXIS;
  ctx.setLineDash([4, 4]);
  ctx.beginPath();
  ctx.moveTo(pad.left, sy(1));
  ctx.lineTo(width - pad.right, sy(1));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.strokeRect(pad.left, pad.top, width - pad.left - pad.right, height - pad.top - pad.bottom);

  ctx.textAlign = "center";
  ctx.fillText("support (share of customers or baskets with both, log scale)", (pad.left + width - pad.right) / 2,
    height - 12);
  ctx.save();
  ctx.translate(16, (pad.top + height - pad.bottom) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText("lift (log scale; dashed: 1 = no association)", 0, 0);
  ctx.restore();

  usable.forEach((p, i) => {
    ctx.globalAlpha = highlight >= 0 && i !== highlight ? 0.35 : 0.85;
    ctx.fillStyle = KIND_COLOURS[p.kind] ?? FALLBACK_COLOUR;
    ctx.beginPath();
    ctx.arc(sx(p.x), sy(p.y), i === highlight ? 7 : 3.5, 0, 2 * Math.PI);
    ctx.fill();
  });
  ctx.globalAlpha = 1;
  const chosen = usable[highlight];
  if (chosen !== undefined) {
    ctx.strokeStyle = AXIS;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(sx(chosen.x), sy(chosen.y), 8, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.fillStyle = AXIS;
    ctx.textAlign = sx(chosen.x) > width / 2 ? "right" : "left";
    ctx.fillText(chosen.label, sx(chosen.x) + (ctx.textAlign === "right" ? -12 : 12), sy(chosen.y) - 10);
  }
}

/** Diverging colour for a lift: orange below 1, white at 1, blue above; grey: no rule. */
export function liftColour(lift: number | null, maxLift: number): string {
  if (lift === null || !(lift > 0)) return NO_RULE;
  const top = Math.log2(Math.max(maxLift, 2));
  const t = Math.max(-1, Math.min(1, Math.log2(lift) / top));
  const mix = (a: number, b: number, k: number): number => Math.round(a + (b - a) * k);
  if (t >= 0) return `rgb(${mix(255, 31, t)}, ${mix(255, 91, t)}, ${mix(255, 200, t)})`;
  return `rgb(${mix(255, 217, -t)}, ${mix(255, 72, -t)}, ${mix(255, 15, -t)})`;
}

/** Rows are antecedents, columns consequents; a gradient legend of lift on the right. */
export function drawHeatmap(canvas: HTMLCanvasElement, items: string[], values: (number | null)[][]): void {
  const n = items.length;
  const cell = Math.max(10, Math.min(22, Math.floor(560 / Math.max(n, 1))));
  const pad = { left: 78, top: 78, right: 110, bottom: 36 };
  const span = Math.max(n * cell, 120);
  const width = pad.left + n * cell + pad.right;
  const height = pad.top + span + pad.bottom;
  const ctx = setupCanvas(canvas, width, height);
  const flat = values.flat().filter((v): v is number => v !== null && v > 0);
  const maxLift = flat.length ? Math.max(...flat) : 2;
  const minLift = flat.length ? Math.min(...flat) : 1;

  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      ctx.fillStyle = r === c ? "#fff" : liftColour(values[r]?.[c] ?? null, maxLift);
      ctx.fillRect(pad.left + c * cell, pad.top + r * cell, cell - 1, cell - 1);
    }
  }
  ctx.fillStyle = AXIS;
  ctx.font = "10px system-ui, sans-serif";
  ctx.textAlign = "right";
  items.forEach((item, i) => ctx.fillText(item, pad.left - 4, pad.top + i * cell + cell * 0.7));
  items.forEach((item, i) => {
    ctx.save();
    ctx.translate(pad.left + i * cell + cell * 0.7, pad.top - 4);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "left";
    ctx.fillText(item, 0, 0);
    ctx.restore();
  });
  ctx.font = FONT;
  ctx.textAlign = "center";
  ctx.fillText("consequent (bought too) →", pad.left + (n * cell) / 2, pad.top + n * cell + 22);
  ctx.save();
  ctx.translate(12, pad.top + (n * cell) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText("antecedent (bought first or also) →", 0, 0);
  ctx.restore();

  // Legend: a vertical gradient of lift from 1/max to max, ticks at powers of two.
  const lx = width - pad.right + 24;
  const top = pad.top;
  const steps = 60;
  const lo = Math.max(Math.min(minLift, 0.5), 1 / Math.max(maxLift, 2));
  const hi = Math.max(maxLift, 2);
  const ly = logScale(lo, hi, top + span, top);
  for (let s = 0; s < steps; s++) {
    const v = lo * (hi / lo) ** ((s + 0.5) / steps);
    ctx.fillStyle = liftColour(v, maxLift);
    ctx.fillRect(lx, ly(v) - span / steps / 2 - 0.5, 14, span / steps + 1);
  }
  ctx.strokeStyle = AXIS;
  ctx.strokeRect(lx, top, 14, span);
  ctx.fillStyle = AXIS;
  ctx.textAlign = "left";
  for (let v = 2 ** Math.ceil(Math.log2(lo)); v <= hi * 1.001; v *= 2) {
    ctx.fillText(formatRatio(v), lx + 18, ly(v) + 4);
  }
  ctx.fillText("lift", lx, top - 8);
  ctx.fillStyle = NO_RULE;
  ctx.fillRect(lx, top + span + 10, 14, 14);
  ctx.fillStyle = AXIS;
  ctx.fillText("no rule", lx + 18, top + span + 21);
}
