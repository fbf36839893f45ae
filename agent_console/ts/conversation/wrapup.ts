/**
 * The wrap-up of one conversation: disposition, note, a visible timer (time left of the
 * queue's wrap-up window, else time spent) and "Finish wrap-up" (`acd.wrap_up`).
 */

import type { Held } from "./state";
import type { ShellContext } from "../shell/context";
import { agentCall } from "../../../signaling/client/agent";
import { dispositionLabel, wrapUpTimer } from "../shell/text";
import { feedback } from "../shell/page";
import { h, uid } from "../../../signaling/client/dom";
import type { WrapUp } from "../../../signaling/client/payloads.gen";

export interface WrapUpForm {
  el: HTMLElement;
  tick(held: Held): void;
  focus(): void;
}

export function createWrapUp(ctx: ShellContext, interaction: string): WrapUpForm {
  const titleId = uid("wrapup-title");
  const selectId = uid("disposition");
  const noteId = uid("wrapup-note");
  const disposition = h("select", { id: selectId, required: true },
    h("option", { value: "" }, "Choose…"),
    ...ctx.dispositions.map((code) => h("option", { value: code }, dispositionLabel(code))));
  const note = h("textarea", { id: noteId, rows: "3", maxlength: "2000" });
  const timer = h("p", { class: "wrapup-timer", role: "timer", "data-testid": "wrapup-timer" });
  const finish = h("button", { type: "submit" }, "Finish wrap-up");
  const status = feedback(uid("wrapup"));
  // novalidate: the message below (read out as an alert) instead of the browser's bubble.
  const el = h("form", { class: "wrapup", "aria-labelledby": titleId, "data-testid": "wrapup", novalidate: true },
    h("div", { class: "wrapup-head" }, h("h4", { id: titleId }, "Wrap-up"), timer),
    h("label", { for: selectId }, "Disposition"), disposition,
    h("label", { for: noteId }, "Wrap-up note"), note,
    h("div", { class: "actions" }, finish), status.el);

  el.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!disposition.value) {
      status.error("Choose a disposition.");
      disposition.focus();
      return;
    }
    finish.disabled = true;
    // The codes offered are the server's own list (`acd.status`); it refuses any other.
    const payload: WrapUp = { interaction, disposition: disposition.value as WrapUp["disposition"] };
    const text = note.value.trim();
    if (text) payload.note = text;
    void agentCall(ctx.bus.socket, "acd.wrap_up", payload).then((ack) => {
      finish.disabled = false;
      if (ack.ok) {
        ctx.bus.notice.ok(`Wrapped up as “${dispositionLabel(payload.disposition)}”.`);
        ctx.dispatch({ type: "closed", interaction });  // the `closed` push follows
      } else if (ack.code === "not_in_wrap_up") {
        ctx.bus.notice.error("That wrap-up had already ended.");
        ctx.refresh();
      } else {
        status.error(ack.message);
      }
    });
  });

  return {
    el,
    tick(held) {
      const { text, overdue } = wrapUpTimer(ctx.clock.now(), held.deadlineMs, held.endedMs);
      timer.textContent = text;
      timer.classList.toggle("overdue", overdue);
    },
    focus() {
      disposition.focus();
    },
  };
}
