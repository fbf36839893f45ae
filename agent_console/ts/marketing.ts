/**
 * The marketing page: the latest analysis report (tier sizes, lift-vs-support scatter,
 * product-affinity heatmap, a sortable table of the top rules, uplift from offer feedback)
 * and outbound campaign lists (criteria form, created lists, CSV downloads). It keeps no
 * live connection, so the connection status is hidden.
 */

import { KIND_COLOURS, KIND_LABELS, type Point, drawHeatmap, drawScatter, formatShare } from "./charts";
import { type Report, type Rule, when } from "./analysis_report";
import { campaignsPanel } from "./marketing_campaigns";
import { api, feedback, pageContext, section } from "./shell/page";
import { h } from "../../signaling/client/dom";

interface ReportAnswer {
  status: string;
  message?: string;
  report: Report | null;
}

interface UpliftRow {
  rule: string;
  offered: number;
  accepted: number;
  converted: number;
  conversion_rate: number | null;
  baseline_conversion_rate: number | null;
  uplift_points: number | null;
  rule_confidence: number | null;
}

const KINDS: Record<string, string> = {
  product: "bought both", product_sequence: "within window", basket: "same day",
  line: "lines: both", line_sequence: "lines: within window",
};

function pct(v: number | null): string {
  return v === null ? "—" : formatShare(v);
}

function num(v: number | null, digits = 2): string {
  return v === null ? "—" : v.toFixed(digits);
}

function tiersTable(report: Report): HTMLElement {
  const total = report.tiers.reduce((sum, t) => sum + t.size, 0) || 1;
  return h("table", { class: "data", "data-testid": "tiers" },
    h("caption", {}, "Follow-up tiers (demand × value)"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Tier"), h("th", { scope: "col" }, "Customers"),
      h("th", { scope: "col" }, "Share"), h("th", { scope: "col" }, "Meaning"))),
    h("tbody", {}, ...report.tiers.map((t) => h("tr", {},
      h("th", { scope: "row" }, t.tier), h("td", {}, t.size.toLocaleString()),
      h("td", {}, formatShare(t.size / total)), h("td", {}, t.meaning)))));
}

function legend(): HTMLElement {
  return h("ul", { class: "legend", "aria-label": "Scatter colours" },
    ...Object.entries(KIND_COLOURS).map(([kind, colour]) => {
      const swatch = h("span", { "aria-hidden": "true" }, "●");
      swatch.style.color = colour;
      return h("li", {}, swatch, ` ${KIND_LABELS[kind] ?? kind}`);
    }));
}

/** A product's name, or a business line's ("buy_sell" -> "buy sell"). */
function name(report: Report, item: string): string {
  return report.products[item]?.name ?? item.replace(/_/g, " ");
}

/** The top rules as a table whose column headers sort it (buttons, with aria-sort). */
function rulesTable(report: Report, onFocus: (rule: Rule) => void): HTMLElement {
  const rows = [...report.top_rules];
  const body = h("tbody", { "data-testid": "rules" });
  const columns: [string, keyof Rule | null][] = [
    ["Kind", "kind"], ["Rule", null], ["Support", "support"], ["Confidence", "confidence"],
    ["Lift", "lift"], ["Customers", "count"], ["Reads as", null]];
  const heads: HTMLTableCellElement[] = [];
  let sortKey: keyof Rule = "lift";
  let descending = true;
  const render = (): void => {
    rows.sort((a, b) => {
      const x = a[sortKey] ?? -Infinity;
      const y = b[sortKey] ?? -Infinity;
      const order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    body.replaceChildren(...rows.map((r) => {
      const tr = h("tr", { tabindex: "0", "data-testid": "rule-row" },
        h("td", {}, KINDS[r.kind] ?? r.kind),
        h("th", { scope: "row" }, `${name(report, r.antecedent)} → ${name(report, r.consequent)}`),
        h("td", {}, pct(r.support)), h("td", {}, pct(r.confidence)), h("td", {}, num(r.lift)),
        h("td", {}, r.count.toLocaleString()), h("td", {}, r.sentence ?? ""));
      tr.addEventListener("focus", () => onFocus(r));
      return tr;
    }));
    columns.forEach(([, key], i) => {
      const head = heads[i];
      if (head === undefined || key === null) return;
      head.setAttribute("aria-sort", key === sortKey ? (descending ? "descending" : "ascending") : "none");
    });
  };
  const headRow = h("tr", {}, ...columns.map(([label, key]) => {
    const th = h("th", { scope: "col" });
    if (key === null) {
      th.textContent = label;
    } else {
      const button = h("button", { type: "button", class: "secondary" }, label);
      button.addEventListener("click", () => {
        descending = sortKey === key ? !descending : true;
        sortKey = key;
        render();
      });
      th.append(button);
    }
    heads.push(th);
    return th;
  }));
  render();
  return h("div", { class: "table-wrap" }, h("table", { class: "data" },
    h("caption", {}, "Strongest rules (sort with the column buttons; focus a row to find it in the scatter)"),
    h("thead", {}, headRow), body));
}

function upliftPanel(report: Report): HTMLElement {
  const panel = section("uplift", "Uplift from offer outcomes");
  const body = h("tbody", { "data-testid": "uplift" });
  const status = h("p", { class: "muted" }, "Loading…");
  panel.append(status, h("div", { class: "table-wrap" }, h("table", { class: "data" },
    h("caption", {}, "Conversion of offers driven by each rule vs. the same product offered without a rule"),
    h("thead", {}, h("tr", {}, ...["Rule", "Offered", "Accepted", "Converted", "Conversion",
                                     "Baseline", "Uplift (points)", "Rule confidence"]
      .map((label) => h("th", { scope: "col" }, label)))), body)));
  void api<{ rules: UpliftRow[] }>("GET", "/api/analysis/uplift").then((ack) => {
    if (!ack.ok) {
      status.textContent = ack.message;
      return;
    }
    status.textContent = ack.rules.length ? "" : "No offer outcomes recorded yet.";
    body.replaceChildren(...ack.rules.map((r) => h("tr", {},
      h("th", { scope: "row" }, r.rule.split("->").map((item) => name(report, item)).join(" → ")), h("td", {}, String(r.offered)),
      h("td", {}, String(r.accepted)), h("td", {}, String(r.converted)),
      h("td", {}, pct(r.conversion_rate)), h("td", {}, pct(r.baseline_conversion_rate)),
      h("td", {}, num(r.uplift_points, 1)), h("td", {}, pct(r.rule_confidence)))));
  });
  return panel;
}

function showReport(root: HTMLElement, report: Report): void {
  const points: Point[] = [];
  const index = new Map<string, number>();
  for (const p of report.scatter) {
    if (p.support === null || p.lift === null) continue;
    index.set(`${p.kind}:${p.antecedent}:${p.consequent}`, points.length);
    points.push({ x: p.support, y: p.lift, kind: p.kind,
                  label: `${p.antecedent} → ${p.consequent} (lift ${p.lift.toFixed(1)})` });
  }
  const scatter = h("canvas", { id: "scatter", role: "img", "data-testid": "scatter",
    "aria-label": `Lift against support for ${points.length} rules; the table below lists the strongest.` });
  const heatmap = h("canvas", { id: "heatmap", role: "img", "data-testid": "heatmap",
    "aria-label": `Lift between ${report.heatmap.items.length} products: rows bought, columns also bought.` });

  const run = h("p", { "data-testid": "run-date" },
    `Version ${report.version}, run ${when(report.run_at)}; data up to ${when(report.as_of)}. ` +
    `${report.reachable.toLocaleString()} reachable customers.`);
  const summary = section("report", "Analysis report");
  summary.append(run, tiersTable(report));

  const charts = section("charts", "Rules at a glance");
  charts.append(
    h("h3", {}, "Lift vs. support"), legend(), scatter,
    h("h3", {}, "Product affinity (lift)"),
    h("p", { class: "hint" }, "Blue: bought together more often than chance; orange: less often; grey: no rule."),
    heatmap);
  const rules = section("rules", "Top rules");
  rules.append(rulesTable(report, (rule) => {
    drawScatter(scatter, points, index.get(`${rule.kind}:${rule.antecedent}:${rule.consequent}`) ?? -1);
  }));
  root.append(summary, charts, rules);
  drawScatter(scatter, points);
  drawHeatmap(heatmap, report.heatmap.items, report.heatmap.values);
}

function main(): void {
  const ctx = pageContext();
  const connection = document.getElementById("connection");
  if (connection !== null) connection.hidden = true;
  const status = feedback("report");
  const reportArea = h("div", { "data-testid": "report-area" });
  ctx.root.append(status.el, reportArea);
  void api<ReportAnswer>("GET", "/api/analysis/report").then((ack) => {
    if (!ack.ok) {
      status.error(ack.message);
      return;
    }
    if (ack.report === null) {
      const empty = section("report", "Analysis report");
      empty.append(h("p", { "data-testid": "no-results" },
        `${ack.message ?? "No analysis has run yet"}. Run \`python -m engage analyze\` to produce one.`));
      reportArea.append(empty);
      return;
    }
    showReport(reportArea, ack.report);
    ctx.root.append(campaignsPanel(ack.report), upliftPanel(ack.report));
  });
}

main();
