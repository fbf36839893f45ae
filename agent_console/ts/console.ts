/**
 * The agent console (foundation): the /agent connection, its status, a round-trip check and
 * the live announcement log. Queue offers, chat and co-browse build on this page later.
 */

import { call } from "../../signaling/client/protocol";
import { NAMESPACES, startStaffSocket } from "./staff_socket";
import {
  announcementLog,
  feedback,
  h,
  pageContext,
  section,
} from "./shell";

function main(): void {
  const ctx = pageContext();
  const log = announcementLog();
  const notice = feedback("console");
  const socket = startStaffSocket(NAMESPACES.agent, log, notice);

  const check = h("button", { type: "button", id: "check-connection" }, "Check connection");
  check.addEventListener("click", () => {
    check.disabled = true;
    const started = performance.now();
    void call(socket, "ping", { text: "console" }, 5_000).then((ack) => {
      check.disabled = false;
      if (ack.ok) {
        notice.ok(`Round trip ${Math.round(performance.now() - started)} ms (node ${ack.node}).`);
      } else {
        notice.error(ack.message);
      }
    });
  });

  const status = section("agent-status", "Your session");
  status.append(
    h("p", {}, "Signed in as ", h("strong", {}, ctx.username), ` (${ctx.role}).`),
    h("div", { class: "actions" }, check),
    notice.el,
  );
  ctx.root.append(h("div", { class: "columns" }, status, log.el));
}

main();
