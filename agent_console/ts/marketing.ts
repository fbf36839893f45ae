/**
 * The marketing page (foundation): confirms the session; invite rules and outbound lists come
 * later. It keeps no live connection, so the connection status is hidden.
 */

import { api, goToLogin, h, pageContext, section } from "./shell";

interface Me {
  username: string;
  role: string;
  display_name: string;
}

function main(): void {
  const ctx = pageContext();
  const connection = document.getElementById("connection");
  if (connection !== null) connection.hidden = true;

  const who = h("p", { "data-testid": "marketing-who" }, "Checking your session…");
  const intro = section("marketing", "Campaigns");
  intro.append(
    who,
    h("p", {}, "Proactive chat-invite rules and outbound call lists will be managed here."),
  );
  ctx.root.append(intro);

  void api<Me>("GET", "/api/me").then((ack) => {
    if (ack.ok) {
      who.textContent = `Signed in as ${ack.display_name} (${ack.role}).`;
    } else if (ack.code === "unauthenticated") {
      goToLogin();
    } else {
      who.textContent = ack.message;
    }
  });
}

main();
