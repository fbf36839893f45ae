/** The proactive prompts above the launcher: the server's help offer and invitations (accept, dismiss, opt out). */

import type { Ack } from "../../../signaling/client/ack";
import type { ContactStatus, Lang, VisitorPushes } from "../../../signaling/client/visitor";
import type { Translate } from "../i18n";
import type { WidgetShell } from "./panel";

type ContactAnswer = Promise<Ack<Partial<ContactStatus>>>;

export interface PromptDeps {
  shell: WidgetShell;
  t: Translate;
  lang: Lang;
  /** A contact request for the visitor (its answer shows the queue or the chat). */
  request(context: Record<string, unknown>, queue?: string): Promise<string | null>;
  /** `invite.respond`. */
  respond(invite: string, action: "accept" | "dismiss"): ContactAnswer;
  /** Takes in an accepted invitation's answer like a contact request's; its error, or null. */
  answered(pending: ContactAnswer): Promise<string | null>;
  /** Accepting failed: the start form, with the error. */
  failed(error: string): void;
  optOut(): void;
}

export function showHelpOffer(deps: PromptDeps, p: VisitorPushes["help.offer"]): void {
  deps.shell.showPrompt({
    text: p.text || deps.t("offer_text"),
    accept: () => {
      deps.shell.open(true);
      void deps.request({ reason: "struggle", offer: p.offer }, p.queue);
    },
    dismiss: () => undefined,
    optOut: () => deps.optOut(),
  });
}

/** The invitation's text in the visitor's language (else English, else the widget's own). */
export function inviteText(text: VisitorPushes["invite"]["text"], lang: Lang): string {
  return typeof text === "string" ? text : text[lang] ?? text["en"] ?? "";
}

export function showInvite(deps: PromptDeps, p: VisitorPushes["invite"]): void {
  deps.shell.showPrompt({
    text: inviteText(p.text, deps.lang) || deps.t("invite_text"),
    accept: () => {
      deps.shell.open(true);
      void deps.answered(deps.respond(p.invite, "accept")).then((error) => {
        if (error !== null) deps.failed(error);
      });
    },
    dismiss: () => void deps.respond(p.invite, "dismiss"),
    optOut: () => deps.optOut(),
  });
}
