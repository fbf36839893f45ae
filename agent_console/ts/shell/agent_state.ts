/**
 * The agent's state selector ("Your state"): available / away with a reason / offline via
 * `acd.state`, showing what the ACD says (busy, wrap-up, auto-away after missed offers).
 */

import { agentCall } from "../../../signaling/client/agent";
import type { ShellContext } from "./context";
import { AWAY_REASONS, reasonLabel, stateLabel } from "./text";
import { feedback } from "./page";
import { h, uid } from "../../../signaling/client/dom";

const CHOICES: readonly (readonly [string, string, boolean])[] = [
  // value, label, chosen by the agent (else set by the ACD from the agent's work)
  ["available", "Available", true], ["busy", "Busy", false], ["wrap_up", "Wrap-up", false],
  ["away", "Away", true], ["offline", "Offline", true]];
const DEFAULT_REASON = "break";

export interface StateSelector {
  el: HTMLElement;
  show(state: string, reason: string): void;
}

export function mountStateSelector(ctx: ShellContext): StateSelector {
  const stateId = uid("agent-state");
  const reasonId = uid("away-reason");
  const select = h("select", { id: stateId, "data-testid": "state-select" },
    ...CHOICES.map(([value, label, chosen]) => h("option", { value, disabled: !chosen }, label)));
  const reason = h("select", { id: reasonId },
    ...AWAY_REASONS.map(([value, label]) => h("option", { value }, label)));
  const reasonRow = h("div", { class: "field" }, h("label", { for: reasonId }, "Away reason"), reason);
  const badge = h("p", { class: "state-badge", role: "status", "data-testid": "agent-state" }, "Offline");
  const notice = feedback(uid("state"));
  const el = h("div", { class: "state-selector" },
    h("div", { class: "field" }, h("label", { for: stateId }, "Your state"), select),
    reasonRow, badge, notice.el);

  let shown = { state: "offline", reason: "" };

  const render = (): void => {
    const { state, reason: why } = shown;
    select.value = CHOICES.some(([v]) => v === state) ? state : "offline";
    reasonRow.hidden = state !== "away";
    // A reason the ACD set (not_ready, missed_offers) shows as a choice too, not selectable.
    for (const opt of [...reason.options]) if (opt.dataset["system"] === "1" && opt.value !== why) opt.remove();
    if (state === "away" && why && ![...reason.options].some((o) => o.value === why)) {
      reason.append(h("option", { value: why, disabled: true, "data-system": "1" }, reasonLabel(why)));
    }
    if (state === "away") reason.value = why || DEFAULT_REASON;
    badge.textContent = stateLabel(state, why);
    badge.className = `state-badge state-${state}`;
  };

  const choose = async (state: "available" | "away" | "offline", why = ""): Promise<void> => {
    select.disabled = true;
    reason.disabled = true;
    const ack = await agentCall(ctx.bus.socket, "acd.state", state === "away" ? { state, reason: why } : { state });
    select.disabled = false;
    reason.disabled = false;
    if (ack.ok) {
      notice.clear();
      // The agent_state push follows; showing the choice now keeps the control steady.
      ctx.dispatch({ type: "agent_state", state: ack.state, reason: state === "away" ? why : "" });
    } else {
      notice.error(ack.message);
      render();  // back to what the ACD says
    }
  };

  select.addEventListener("change", () => {
    const value = select.value;
    if (value === "available" || value === "offline") void choose(value);
    else if (value === "away") {
      const picked = AWAY_REASONS.some(([code]) => code === reason.value) ? reason.value : DEFAULT_REASON;
      void choose("away", picked);
    }
  });
  reason.addEventListener("change", () => void choose("away", reason.value));

  return {
    el,
    show(state, why) {
      const before = shown;
      shown = { state, reason: why };
      render();
      if (state === "away" && why === "missed_offers" && before.reason !== "missed_offers") {
        notice.error("You were set to Away after missed offers. Choose Available when you are ready.");
      } else if (state !== "away" && before.state === "away") {
        notice.clear();
      }
    },
  };
}
