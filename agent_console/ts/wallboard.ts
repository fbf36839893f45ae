/**
 * The supervisor wallboard (foundation): the /supervisor connection and an announcement form
 * whose refusals show the server's message. Agent states and queue KPIs come later.
 */

import {
  ANNOUNCEMENT_LEVELS,
  ANNOUNCEMENT_MAX_CHARS,
  type AnnouncementLevel,
  call,
} from "../../signaling/client/protocol";
import { NAMESPACES, startStaffSocket } from "./shell/staff_socket";
import { announcementLog, feedback, pageContext, section } from "./shell/page";
import { h } from "../../signaling/client/dom";

function isLevel(value: string): value is AnnouncementLevel {
  return (ANNOUNCEMENT_LEVELS as readonly string[]).includes(value);
}

function main(): void {
  const ctx = pageContext();
  const log = announcementLog();
  const result = feedback("announce");
  const socket = startStaffSocket(NAMESPACES.supervisor, log, result);

  const text = h("textarea", { id: "announce-text", name: "text", rows: "3", required: true,
                               maxlength: String(ANNOUNCEMENT_MAX_CHARS) });
  const level = h("select", { id: "announce-level", name: "level" },
    ...ANNOUNCEMENT_LEVELS.map((l) => h("option", { value: l }, l)));
  const send = h("button", { type: "submit" }, "Send announcement");
  const form = h("form", { class: "stack", "aria-labelledby": "announce-title" },
    h("label", { for: "announce-text" }, "Message to all staff"), text,
    h("label", { for: "announce-level" }, "Level"), level,
    h("div", { class: "actions" }, send),
    result.el);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const message = text.value.trim();
    if (message === "") {
      result.error("Write a message first.");
      text.focus();
      return;
    }
    send.disabled = true;
    result.clear();
    const chosen = isLevel(level.value) ? level.value : "info";
    void call(socket, "announce", { text: message, level: chosen }).then((ack) => {
      send.disabled = false;
      if (ack.ok) {
        text.value = "";
        result.ok("Announcement sent.");
      } else {
        result.error(ack.message);
      }
      text.focus();
    });
  });

  const compose = section("announce", "Announce");
  compose.append(form);
  ctx.root.append(h("div", { class: "columns" }, compose, log.el));
}

main();
