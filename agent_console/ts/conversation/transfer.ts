/**
 * Transfers of one conversation: the form (target queue or agent, cold or warm) and, during a
 * warm transfer, the consultation bar (waiting / joined, "Complete transfer", "Cancel
 * consultation"). Queues come from `GET /api/queues`, agents and their states from
 * `GET /api/agents`, both fresh each time the form opens.
 */

import type { Held } from "./state";
import type { ShellContext } from "../shell/context";
import { agentCall } from "../../../signaling/client/agent";
import { type AgentInfo, parseAgents, parseQueues } from "../shell/staff_lists";
import { stateLabel } from "../shell/text";
import { api, feedback } from "../shell/page";
import { h, uid } from "../../../signaling/client/dom";

export interface TransferControls {
  /** The "Transfer" button that opens the form (placed with the other actions). */
  opener: HTMLButtonElement;
  el: HTMLElement;
  update(held: Held): void;
}

export function createTransfer(ctx: ShellContext, interaction: string): TransferControls {
  const formId = uid("transfer");
  const targetId = uid("transfer-target");
  const opener = h("button", { type: "button", class: "secondary", "aria-expanded": "false",
                               "aria-controls": formId }, "Transfer");
  const target = h("select", { id: targetId, required: true });
  const radio = (value: string, label: string): [HTMLInputElement, HTMLElement] => {
    const input = h("input", { type: "radio", name: `${formId}-mode`, value });
    return [input, h("label", { class: "choice" }, input, ` ${label}`)];
  };
  const [cold, coldLabel] = radio("cold", "Cold (hand over now)");
  const [warm, warmLabel] = radio("warm", "Warm (consult the agent first)");
  cold.checked = true;
  const confirm = h("button", { type: "submit" }, "Confirm transfer");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const status = feedback(uid("transfer-status"));
  const form = h("form", { id: formId, class: "transfer", hidden: true, "aria-label": "Transfer", novalidate: true },
    h("label", { for: targetId }, "Transfer to"), target,
    h("fieldset", { class: "modes" }, h("legend", {}, "Mode"), coldLabel, warmLabel),
    h("div", { class: "actions" }, confirm, cancel), status.el);

  const consultText = h("p", { role: "status", "data-testid": "consult-status" });
  const complete = h("button", { type: "button" }, "Complete transfer");
  const stop = h("button", { type: "button", class: "secondary" }, "Cancel consultation");
  const consultBar = h("div", { class: "consult-bar", hidden: true }, consultText,
    h("div", { class: "actions" }, complete, stop));
  const el = h("div", { class: "transfer-area" }, form, consultBar);

  let held: Held | null = null;
  let agents: AgentInfo[] = [];

  const syncModes = (): void => {
    // The ACD consults agents only: a queue takes the conversation as it is.
    const toQueue = target.value.startsWith("queue:");
    warm.disabled = toQueue;
    if (toQueue) cold.checked = true;
  };

  const load = async (): Promise<void> => {
    target.replaceChildren(h("option", { value: "" }, "Loading…"));
    const [queues, roster] = await Promise.all([api("GET", "/api/queues"), api("GET", "/api/agents")]);
    if (queues.ok) for (const [id, q] of parseQueues(queues)) ctx.queues.set(id, q);
    agents = roster.ok ? parseAgents(roster).filter((a) => a.username !== ctx.bus.username) : [];
    const channel = held?.channel ?? "chat";
    target.replaceChildren(
      h("option", { value: "" }, "Choose…"),
      h("optgroup", { label: "Queues" }, ...[...ctx.queues.values()].map((q) =>
        h("option", { value: `queue:${q.id}` }, q.name))),
      h("optgroup", { label: "Agents" }, ...agents.map((a) => {
        const free = a.takes.includes(channel);
        return h("option", { value: `agent:${a.username}`, disabled: !free },
          `${a.displayName} — ${free ? stateLabel(a.state, a.reason) : `${stateLabel(a.state, a.reason)}, cannot take it`}`);
      })));
    if (!queues.ok || !roster.ok) status.error("Some transfer targets could not be loaded.");
    syncModes();
  };

  const close = (): void => {
    form.hidden = true;
    opener.setAttribute("aria-expanded", "false");
    status.clear();
  };

  opener.addEventListener("click", () => {
    if (!form.hidden) {
      close();
      opener.focus();
      return;
    }
    form.hidden = false;
    opener.setAttribute("aria-expanded", "true");
    status.clear();
    void load().then(() => target.focus());
  });
  cancel.addEventListener("click", () => {
    close();
    opener.focus();
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      close();
      opener.focus();
    }
  });
  target.addEventListener("change", syncModes);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const [kind, id] = target.value.split(":", 2);
    if (!kind || !id) {
      status.error("Choose a queue or an agent.");
      target.focus();
      return;
    }
    const mode = warm.checked && kind === "agent" ? "warm" : "cold";
    const payload = kind === "queue" ? { interaction, to_queue: id, mode } as const
      : { interaction, to_agent: id, mode } as const;
    const where = kind === "queue" ? `queue ${ctx.queueName(id)}`
      : agents.find((a) => a.username === id)?.displayName ?? id;
    confirm.disabled = true;
    void agentCall(ctx.bus.socket, "acd.transfer", payload).then((ack) => {
      confirm.disabled = false;
      if (!ack.ok) {
        status.error(ack.message);
        return;
      }
      close();
      if (mode === "warm") {
        ctx.dispatch({ type: "consult_started", interaction, agent: id });
        stop.focus();  // "Complete transfer" waits (disabled) until the colleague joins
      } else {
        ctx.bus.notice.ok(`Transferred to ${where}.`);
        ctx.dispatch({ type: "transferred", interaction });  // the `transferred` push follows
      }
    });
  });

  complete.addEventListener("click", () => {
    complete.disabled = true;
    void agentCall(ctx.bus.socket, "acd.consult_complete", { interaction }).then((ack) => {
      complete.disabled = false;
      if (!ack.ok) {
        consultText.textContent = ack.message;
        return;
      }
      ctx.bus.notice.ok(`Transferred to ${held?.consult?.agent ?? "your colleague"}.`);
      ctx.dispatch({ type: "transferred", interaction });
    });
  });
  stop.addEventListener("click", () => {
    void agentCall(ctx.bus.socket, "acd.consult_cancel", { interaction }).then((ack) => {
      if (ack.ok || ack.code === "no_consult") {
        ctx.dispatch({ type: "consult_cancelled", interaction });
        opener.focus();
      } else {
        consultText.textContent = ack.message;
      }
    });
  });

  return {
    opener,
    el,
    update(next) {
      held = next;
      const consult = next.role === "owner" && next.state === "connected" ? next.consult : null;
      opener.hidden = next.role !== "owner" || next.state !== "connected" || consult !== null;
      if (opener.hidden && !form.hidden) close();
      consultBar.hidden = consult === null;
      if (consult !== null) {
        consultText.textContent = consult.accepted
          ? `${consult.agent} joined. Complete the transfer when you are ready.`
          : `Waiting for ${consult.agent} to join…`;
        complete.disabled = !consult.accepted;
      }
    },
  };
}
