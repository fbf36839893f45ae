/**
 * The agent console page: the /agent connection, the shell (state, offers, conversations) and
 * the side panels (live context, customer ledger, suggestions, knowledge, bulletin board),
 * all sharing one ConsoleBus.
 */

import { call } from "../../signaling/client/protocol";
import { ConsoleBus } from "./shell/console_bus";
import { mountShell } from "./shell/console_shell";
import { mountBulletin } from "./panels/bulletin";
import { mountContext } from "./panels/context";
import { mountKnowledge } from "./panels/knowledge";
import { mountLedger } from "./panels/ledger";
import { mountSuggestions } from "./panels/suggestions";
import { NAMESPACES, startStaffSocket } from "./shell/staff_socket";
import { announcementLog, feedback, pageContext, section } from "./shell/page";
import { h } from "../../signaling/client/dom";

function connectionCheck(bus: ConsoleBus, notice: ReturnType<typeof feedback>): HTMLElement {
  const check = h("button", { type: "button", id: "check-connection" }, "Check connection");
  check.addEventListener("click", () => {
    check.disabled = true;
    const started = performance.now();
    void call(bus.socket, "ping", { text: "console" }, 5_000).then((ack) => {
      check.disabled = false;
      if (ack.ok) {
        notice.ok(`Round trip ${Math.round(performance.now() - started)} ms (node ${ack.node}).`);
      } else {
        notice.error(ack.message);
      }
    });
  });
  return check;
}

function main(): void {
  const ctx = pageContext();
  const log = announcementLog();
  const notice = feedback("console");
  const socket = startStaffSocket(NAMESPACES.agent, log, notice);
  const bus = new ConsoleBus(socket, ctx.username, ctx.role, notice);

  const stateSlot = h("div", { class: "agent-state" });
  const status = section("agent-status", "Your session");
  status.append(
    h("p", {}, "Signed in as ", h("strong", {}, ctx.username), ` (${ctx.role}).`),
    stateSlot,
    h("div", { class: "actions" }, connectionCheck(bus, notice)),
    notice.el,
  );
  const offers = section("offers", "Incoming");
  const conversations = section("conversations", "Conversations");
  const panel = (id: string, title: string): HTMLElement => section(id, title);
  const context = panel("context", "Visitor");
  const ledger = panel("ledger", "Customer");
  const suggestions = panel("suggestions", "Suggestions");
  const knowledge = panel("knowledge", "Answers");
  const bulletin = panel("bulletin", "Bulletin board");

  ctx.root.classList.add("console");
  ctx.root.append(
    h("div", { class: "columns console-top" }, status, offers, log.el),
    h("div", { class: "console-main" },
      h("div", { class: "console-work" }, conversations),
      h("div", { class: "console-side" }, context, suggestions, ledger, knowledge, bulletin)),
  );
  mountShell(bus, { state: stateSlot, offers, conversations });
  mountContext(bus, context);
  mountLedger(bus, ledger);
  mountSuggestions(bus, suggestions);
  mountKnowledge(bus, knowledge);
  mountBulletin(bus, bulletin);
}

main();
