/** The widget's /visitor requests as the views need them: a `disconnected` error before there is a socket, and each ack as the text to show (null: done). */

import { type Ack, type AckError, CLIENT_CODES, errorAck } from "../../../signaling/client/ack";
import { type VisitorRequests, visitorCall } from "../../../signaling/client/visitor";
import type { Translate } from "../i18n";
import { saveBlob } from "../../../signaling/client/dom";
import type { Socket } from "./connection";
import type { VisitorHttp } from "./http";
import type { ContactHandlers, EndedHandlers } from "./views";

export class VisitorRequester {
  constructor(private readonly socket: () => Socket | null, private readonly t: Translate) {}

  /** A request on the socket; before there is one, a `disconnected` error. */
  call<E extends keyof VisitorRequests>(event: E, payload: VisitorRequests[E]["payload"]
  ): Promise<Ack<VisitorRequests[E]["reply"]>> {
    const socket = this.socket();
    if (socket === null) return Promise.resolve(errorAck(CLIENT_CODES.disconnected, "not connected yet"));
    return visitorCall(socket, event, payload);
  }

  /** `null` when the request succeeded, else the error text to show. */
  async outcome(pending: Promise<Ack<object>>): Promise<string | null> {
    const ack = await pending;
    return ack.ok ? null : this.errorText(ack);
  }

  errorText(ack: AckError): string {
    if (ack.code === "rate_limited") return this.t("error_rate_limited");
    if (ack.code === "not_answered") return this.t("transcript_not_answered");
    if (ack.code === "mail_limited") return this.t("transcript_limited");
    if (ack.code === "outbox_full") return this.t("transcript_later");
    if (ack.code === "interaction_open") return this.t("error_interaction_open");
    if (ack.code === CLIENT_CODES.timeout || ack.code === CLIENT_CODES.disconnected
        || ack.code === CLIENT_CODES.network) return this.t("error_offline");
    return this.t("error_generic");
  }

  /** Leave a message / ask for a callback (to the site's queue, when it names one). */
  contactHandlers(queue: string | undefined): ContactHandlers {
    return {
      message: (p) => this.outcome(this.call("contact.message", {
        name: p.name, text: p.text, ...(p.email ? { email: p.email } : {}), ...(p.phone ? { phone: p.phone } : {}),
        ...(queue ? { queue } : {}) })),
      callback: (p) => this.outcome(this.call("contact.callback", {
        name: p.name, phone: p.phone, ...(queue ? { queue } : {}) })),
    };
  }

  /** After a chat: rating, the transcript by email or as a download, a new chat. */
  endedHandlers(ix: string, http: VisitorHttp, restart: () => void): EndedHandlers {
    return {
      rate: (score, comment) => this.outcome(this.call("chat.rate", { interaction: ix, score, comment })),
      email: (email) => this.outcome(this.call("chat.transcript", { interaction: ix, email })),
      download: async () => {
        const blob = await http.transcript(ix);
        if (blob === null) return this.t("error_generic");
        saveBlob(blob, `transcript-${ix}.txt`);
        return null;
      },
      restart,
    };
  }
}
