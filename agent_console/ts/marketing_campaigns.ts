/**
 * Outbound campaign lists on the marketing page: a criteria form (products, business lines,
 * tiers, segments, size, exclusions) that creates a list from the served analysis, and the
 * table of created lists with their CSV downloads.
 */

import { type Report, when } from "./analysis_report";
import { api, feedback, section } from "./shell/page";
import { h } from "../../signaling/client/dom";

interface Campaign {
  id: string;
  name: string;
  version: number;
  created_at: string;
  created_by: string;
  size: number;
  candidates: number;
  excluded: Record<string, number>;
}

const TIERS = ["A", "B", "C", "D"] as const;
const SEGMENTS: [string, string][] = [
  ["district", "Districts"], ["membership", "Memberships"], ["age_band", "Age bands"],
  ["income_band", "Income bands"]];

function csvLink(campaign: Campaign): HTMLAnchorElement {
  return h("a", { href: `/api/campaigns/${encodeURIComponent(campaign.id)}/list.csv`,
                  download: `${campaign.id}.csv`, "data-testid": "csv-link" },
    `Download CSV (${campaign.size.toLocaleString()} rows)`);
}

function excludedText(excluded: Record<string, number>): string {
  const parts = Object.entries(excluded).filter(([, n]) => n > 0)
    .map(([why, n]) => `${n.toLocaleString()} ${why.replace(/_/g, " ")}`);
  return parts.length ? parts.join(", ") : "none";
}

/** A labelled multi-select; `id` also names the field. */
function multiSelect(id: string, label: string, options: [string, string][], size = 6): [HTMLElement, HTMLSelectElement] {
  const select = h("select", { id, name: id, multiple: true, size: String(Math.min(size, options.length || 1)),
                               "aria-describedby": `${id}-hint` },
    ...options.map(([value, text]) => h("option", { value }, text)));
  return [h("div", { class: "stack" }, h("label", { for: id }, label), select,
    h("p", { class: "hint", id: `${id}-hint` }, "None chosen means all; Ctrl/⌘ or Shift selects several.")), select];
}

function chosen(select: HTMLSelectElement): string[] {
  return Array.from(select.selectedOptions, (o) => o.value);
}

export function campaignsPanel(report: Report): HTMLElement {
  const panel = section("campaigns", "Outbound campaign lists");
  const result = feedback("campaign");

  const nameInput = h("input", { id: "campaign-name", name: "name", required: true, maxlength: "100",
                                 autocomplete: "off" });
  const products = Object.entries(report.products)
    .map(([sku, p]): [string, string] => [sku, `${p.name} (${sku})`]);
  const [productsField, productSelect] = multiSelect("campaign-products", "Products", products, 8);
  const [linesField, lineSelect] = multiSelect("campaign-lines", "Business lines",
    report.lines.map((l): [string, string] => [l, l.replace(/_/g, " ")]));
  const tierBoxes = TIERS.map((t) => h("input", { type: "checkbox", id: `campaign-tier-${t}`, value: t,
                                                  checked: t === "A" || t === "B" }));
  const tiers = h("fieldset", {}, h("legend", {}, "Tiers"),
    ...tierBoxes.map((box, i) => {
      const label = h("label", { for: box.id }, box, ` ${TIERS[i]}: ${report.tiers[i]?.meaning ?? ""}`);
      label.style.display = "block";
      label.style.fontWeight = "normal";
      return label;
    }));
  const segmentSelects = SEGMENTS.map(([key, label]) => {
    const levels = report.segments[key] ?? [];
    return [key, ...multiSelect(`campaign-${key}`, label, levels.map((l): [string, string] => [l, l]))] as const;
  });
  const size = h("input", { id: "campaign-size", name: "size", type: "number", min: "1", max: "50000",
                            value: "1000", required: true });
  const contacted = h("input", { id: "campaign-contacted", name: "contacted_within_days", type: "number",
                                 min: "0", max: "3650", value: "30", required: true });
  const minScore = h("input", { id: "campaign-min-score", name: "min_score", type: "number", min: "0",
                                max: "1", step: "0.01", value: "0" });
  const create = h("button", { type: "submit" }, "Create list");
  const what = h("div", { class: "stack" },
    h("label", { for: "campaign-name" }, "Campaign name"), nameInput, productsField, linesField, tiers);
  const who = h("div", { class: "stack" }, ...segmentSelects.map(([, field]) => field));
  const how = h("div", { class: "stack" },
    h("label", { for: "campaign-size" }, "List size (at most)"), size,
    h("label", { for: "campaign-contacted" }, "Leave out customers contacted in the last N days (0: keep them)"),
    contacted,
    h("label", { for: "campaign-min-score" }, "Minimum score (0–1)"), minScore,
    h("p", { class: "hint" }, "Opted-out and unreachable customers are always left out."),
    h("div", { class: "actions" }, create), result.el);
  const form = h("form", { "aria-label": "Create a campaign list" }, h("div", { class: "columns" }, what, who, how));

  const body = h("tbody", { "data-testid": "campaigns" });
  const table = h("div", { class: "table-wrap" }, h("table", { class: "data" },
    h("caption", {}, "Created lists"),
    h("thead", {}, h("tr", {}, ...["Campaign", "Created", "Analysis version", "Rows", "Left out", "Export"]
      .map((label) => h("th", { scope: "col" }, label)))), body));

  const load = async (): Promise<void> => {
    const ack = await api<{ campaigns: Campaign[] }>("GET", "/api/campaigns");
    if (!ack.ok) {
      result.error(ack.message);
      return;
    }
    body.replaceChildren(...ack.campaigns.map((c) => h("tr", { "data-testid": "campaign-row" },
      h("th", { scope: "row" }, c.name), h("td", {}, `${when(c.created_at)} by ${c.created_by}`),
      h("td", {}, String(c.version)), h("td", {}, c.size.toLocaleString()),
      h("td", {}, excludedText(c.excluded)), h("td", {}, csvLink(c)))));
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const segments: Record<string, string[]> = {};
    for (const [key, , select] of segmentSelects) {
      const values = chosen(select);
      if (values.length) segments[key] = values;
    }
    const payload = {
      name: nameInput.value.trim(), products: chosen(productSelect), lines: chosen(lineSelect),
      tiers: tierBoxes.filter((b) => b.checked).map((b) => b.value), segments,
      size: Number(size.value), contacted_within_days: Number(contacted.value),
      min_score: Number(minScore.value || "0"),
    };
    create.disabled = true;
    result.clear();
    void api<{ campaign: Campaign }>("POST", "/api/campaigns", payload).then(async (ack) => {
      create.disabled = false;
      if (!ack.ok) {
        result.error(ack.message);
        return;
      }
      const c = ack.campaign;
      result.ok(`“${c.name}”: ${c.size.toLocaleString()} customers listed from ${c.candidates.toLocaleString()} ` +
        `candidates; left out: ${excludedText(c.excluded)}.`);
      await load();
      body.querySelector("a")?.focus();
    });
  });

  panel.append(form, table);
  void load();
  return panel;
}
