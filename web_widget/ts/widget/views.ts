/**
 * The panel's views other than the chat: start form, queue, leave-a-message and callback,
 * and the end of a chat (rating, transcript). Each takes callbacks that answer `null` on
 * success or the text of an error to show; none knows about sockets.
 */

import { isEmail, normalizeE164 } from "../../../signaling/client/visitor";
import type { Translate } from "../i18n";
import { h, uid } from "../../../signaling/client/dom";

/** A labelled field: `<label for>` + control (+ hint and error lines wired by aria-describedby). */
export function field(label: string, control: HTMLInputElement | HTMLTextAreaElement,
                      hint?: string): { el: HTMLElement; error: HTMLElement } {
  control.id = control.id || uid("engage-field");
  const error = h("p", { class: "engage-error", id: `${control.id}-error`, role: "alert" });
  const described = [error.id];
  const hintEl = hint ? h("p", { class: "engage-hint", id: `${control.id}-hint` }, hint) : null;
  if (hintEl !== null) described.unshift(hintEl.id);
  control.setAttribute("aria-describedby", described.join(" "));
  return { el: h("div", { class: "engage-field" }, h("label", { for: control.id }, label), control, hintEl, error),
           error };
}

/** `null`: done; a string: the error to show. */
export type Outcome = Promise<string | null>;

function status(): HTMLElement {
  return h("p", { class: "engage-status", role: "status" });
}

/** Runs `run` on submit with the button disabled; shows its error in `error`. */
function onSubmit(form: HTMLFormElement, button: HTMLButtonElement, error: HTMLElement,
                  run: () => Outcome | null, done?: () => void): void {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (button.disabled) return;
    error.textContent = "";
    const pending = run();
    if (pending === null) return; // refused by a client-side check (its message is shown)
    button.disabled = true;
    void pending.then((message) => {
      button.disabled = false;
      if (message === null) done?.();
      else error.textContent = message;
    });
  });
}

function input(attrs: Record<string, string | boolean>): HTMLInputElement {
  return h("input", attrs);
}

export interface StartHandlers {
  start(name: string): Outcome;
  leaveMessage(): void;
  optOut(optedOut: boolean): void;
}

export function startView(t: Translate, handlers: StartHandlers, optedOut: boolean): HTMLElement {
  const name = input({ type: "text", name: "name", autocomplete: "name", maxlength: "120" });
  const nameField = field(t("name_optional"), name);
  const button = h("button", { type: "submit", class: "engage-primary" }, t("start_chat"));
  const error = h("p", { class: "engage-error", role: "alert" });
  const form = h("form", { class: "engage-form", novalidate: true },
    h("p", { class: "engage-intro" }, t("start_intro")), nameField.el, button, error);
  onSubmit(form, button, error, () => handlers.start(name.value.trim()));
  const other = h("button", { type: "button", class: "engage-link" }, t("leave_message_instead"));
  other.addEventListener("click", () => handlers.leaveMessage());
  const box = input({ type: "checkbox", name: "opt_out" });
  box.checked = optedOut;
  box.addEventListener("change", () => handlers.optOut(box.checked));
  const optOut = h("label", { class: "engage-check" }, box, t("opt_out"));
  return h("div", { class: "engage-view engage-start" }, form, other, optOut);
}

export interface QueueView {
  el: HTMLElement;
  update(position: number | undefined, waitSeconds: number | undefined, note?: string): void;
}

export function queueView(t: Translate, cancel: () => Outcome): QueueView {
  const position = h("p", { class: "engage-position" });
  const wait = h("p", { class: "engage-wait" });
  const note = status();
  const error = h("p", { class: "engage-error", role: "alert" });
  const button = h("button", { type: "button", class: "engage-secondary", "data-autofocus": "" }, t("cancel_request"));
  button.addEventListener("click", () => {
    button.disabled = true;
    void cancel().then((message) => {
      button.disabled = false;
      error.textContent = message ?? "";
    });
  });
  const el = h("div", { class: "engage-view engage-queue", "aria-live": "polite" },
    h("h2", {}, t("queue_heading")), h("div", { class: "engage-spinner", "aria-hidden": "true" }),
    position, wait, note, button, error);
  return {
    el,
    update(pos, seconds, text) {
      position.textContent = pos !== undefined && pos > 0 ? t("queue_position", { n: pos }) : "";
      wait.textContent = seconds === undefined ? ""
        : seconds < 60 ? t("queue_wait_short") : t("queue_wait", { n: Math.round(seconds / 60) });
      if (text !== undefined) note.textContent = text;
    },
  };
}

export interface ContactHandlers {
  message(payload: { name: string; email: string; phone: string; text: string }): Outcome;
  callback(payload: { name: string; phone: string }): Outcome;
}

/** Leave-a-message and callback forms, shown when chat is closed or the wait was too long. */
export function unavailableView(t: Translate, reason: "closed" | "timeout" | "choice",
                                handlers: ContactHandlers): HTMLElement {
  const intro = reason === "choice" ? null
    : h("p", { class: "engage-intro" }, t(reason === "closed" ? "unavailable_closed" : "unavailable_timeout"));

  const name = input({ type: "text", name: "name", autocomplete: "name", maxlength: "120", required: true });
  const email = input({ type: "email", name: "email", autocomplete: "email", maxlength: "254" });
  const msgPhone = input({ type: "tel", name: "phone", autocomplete: "tel", maxlength: "32", inputmode: "tel" });
  const text = h("textarea", { name: "text", rows: "4", maxlength: "4000", required: true });
  const nameF = field(t("name"), name);
  const emailF = field(t("email_optional"), email);
  const msgPhoneF = field(t("phone_optional"), msgPhone, t("phone_hint"));
  const textF = field(t("your_message"), text);
  const sendButton = h("button", { type: "submit", class: "engage-primary" }, t("send_message"));
  const sendError = h("p", { class: "engage-error", role: "alert" });
  const sendDone = status();
  const messageForm = h("form", { class: "engage-form", novalidate: true, "aria-labelledby": "engage-msg-h" },
    h("h2", { id: "engage-msg-h" }, t("message_heading")), nameF.el, emailF.el, msgPhoneF.el, textF.el, sendButton,
    sendError, sendDone);
  onSubmit(messageForm, sendButton, sendError, () => {
    nameF.error.textContent = name.value.trim() ? "" : t("name_required");
    textF.error.textContent = text.value.trim() ? "" : t("text_required");
    const address = email.value.trim();
    const number = msgPhone.value.trim() ? normalizeE164(msgPhone.value) : "";
    emailF.error.textContent = !address || isEmail(address) ? "" : t("email_invalid");
    msgPhoneF.error.textContent = number === null ? t("phone_invalid") : "";
    if (!address && number === "" && !emailF.error.textContent) emailF.error.textContent = t("contact_required");
    const bad = [nameF, emailF, msgPhoneF, textF].find((f) => f.error.textContent !== "");
    if (bad !== undefined) {
      bad.el.querySelector<HTMLElement>("input, textarea")?.focus();
      return null;
    }
    return handlers.message({ name: name.value.trim(), email: address, phone: number ?? "",
                              text: text.value.trim() });
  }, () => {
    sendDone.textContent = t("message_sent");
    messageForm.reset();
  });

  const cbName = input({ type: "text", name: "name", autocomplete: "name", maxlength: "120", required: true });
  const phone = input({ type: "tel", name: "phone", autocomplete: "tel", maxlength: "32", required: true,
                        inputmode: "tel" });
  const cbNameF = field(t("name"), cbName);
  const phoneF = field(t("phone"), phone, t("phone_hint"));
  const cbButton = h("button", { type: "submit", class: "engage-primary" }, t("request_callback"));
  const cbError = h("p", { class: "engage-error", role: "alert" });
  const cbDone = status();
  const callbackForm = h("form", { class: "engage-form", novalidate: true, "aria-labelledby": "engage-cb-h" },
    h("h2", { id: "engage-cb-h" }, t("callback_heading")), cbNameF.el, phoneF.el, cbButton, cbError, cbDone);
  onSubmit(callbackForm, cbButton, cbError, () => {
    const number = normalizeE164(phone.value);
    cbNameF.error.textContent = cbName.value.trim() ? "" : t("name_required");
    phoneF.error.textContent = number === null ? t("phone_invalid") : "";
    phone.setAttribute("aria-invalid", number === null ? "true" : "false");
    if (!cbName.value.trim()) {
      cbName.focus();
      return null;
    }
    if (number === null) {
      phone.focus();
      return null;
    }
    return handlers.callback({ name: cbName.value.trim(), phone: number });
  }, () => {
    cbDone.textContent = t("callback_requested");
    callbackForm.reset();
  });
  return h("div", { class: "engage-view engage-unavailable" },
    reason === "choice" ? null : h("h2", {}, t("unavailable_heading")), intro, messageForm, callbackForm);
}

export interface EndedHandlers {
  rate(score: number, comment: string): Outcome;
  download(): Outcome;
  email(address: string): Outcome;
  restart(): void;
}

export function endedView(t: Translate, handlers: EndedHandlers): HTMLElement {
  const stars = [1, 2, 3, 4, 5].map((n) => {
    const radio = input({ type: "radio", name: "score", value: String(n), class: "engage-star-input" });
    return h("label", { class: "engage-star" }, radio,
      h("span", { class: "engage-sr" }, t(n === 1 ? "star" : "stars", { n })),
      h("span", { class: "engage-star-glyph", "aria-hidden": "true" }, "★"));
  });
  const group = h("fieldset", { class: "engage-stars" }, h("legend", {}, t("rate")), ...stars);
  const comment = h("textarea", { name: "comment", rows: "2", maxlength: "2000" });
  const commentF = field(t("comment_optional"), comment);
  const rateButton = h("button", { type: "submit", class: "engage-primary" }, t("submit_rating"));
  const rateError = h("p", { class: "engage-error", role: "alert" });
  const rateDone = status();
  const rateForm = h("form", { class: "engage-form", novalidate: true }, group, commentF.el, rateButton,
    rateError, rateDone);
  onSubmit(rateForm, rateButton, rateError, () => {
    const chosen = rateForm.querySelector<HTMLInputElement>("input[name=score]:checked");
    if (chosen === null) {
      rateError.textContent = t("rating_required");
      return null;
    }
    return handlers.rate(Number(chosen.value), comment.value.trim());
  }, () => {
    rateDone.textContent = t("rating_thanks");
    rateButton.hidden = true;
    group.disabled = true;
  });

  const download = h("button", { type: "button", class: "engage-secondary" }, t("download_transcript"));
  const downloadError = h("p", { class: "engage-error", role: "alert" });
  download.addEventListener("click", () => {
    download.disabled = true;
    void handlers.download().then((message) => {
      download.disabled = false;
      downloadError.textContent = message ?? "";
    });
  });

  const email = input({ type: "email", name: "email", autocomplete: "email", maxlength: "254", required: true });
  const emailF = field(t("email_label"), email);
  const emailButton = h("button", { type: "submit", class: "engage-secondary" }, t("email_transcript"));
  const emailDone = status();
  const emailForm = h("form", { class: "engage-form", novalidate: true }, emailF.el, emailButton, emailDone);
  onSubmit(emailForm, emailButton, emailF.error, () => {
    if (!isEmail(email.value.trim())) {
      emailF.error.textContent = t("email_invalid");
      email.focus();
      return null;
    }
    return handlers.email(email.value.trim());
  }, () => {
    emailDone.textContent = t("transcript_queued");
  });

  const restart = h("button", { type: "button", class: "engage-link" }, t("new_chat"));
  restart.addEventListener("click", () => handlers.restart());
  return h("div", { class: "engage-view engage-ended" },
    h("h2", { tabindex: "-1", "data-autofocus": "" }, t("ended_heading")), rateForm,
    h("div", { class: "engage-transcript" }, download, downloadError), emailForm, restart);
}
