/**
 * The canned-answers panel: search (and shortcut typing: "/refund" then Enter inserts it),
 * a category filter, a preview, and "Insert", which renders the answer's variables for the
 * selected conversation on the server and puts the text into that conversation's message box
 * (`bus.insertIntoChat`); disabled, with the reason, when no conversation is selected.
 */

import type { Conversation, ConsoleBus } from "../shell/console_bus";
import { api, feedback } from "../shell/page";
import {
  type Answer,
  answerLang,
  exactShortcut,
  insertBlocked,
  parseAnswers,
  previewText,
  renderRequest,
} from "./knowledge_model";
import { strings } from "./wire";
import { h, uid } from "../../../signaling/client/dom";

const SEARCH_DELAY_MS = 200;

export function mountKnowledge(bus: ConsoleBus, el: HTMLElement): void {
  el.dataset["panel"] = "knowledge";
  const queryId = uid("knowledge-q");
  const categoryId = uid("knowledge-category");
  const query = h("input", { id: queryId, type: "search", autocomplete: "off", maxlength: "200",
                             "aria-describedby": `${queryId}-hint` });
  const category = h("select", { id: categoryId }, h("option", { value: "" }, "All categories"));
  const form = h("form", { class: "knowledge-search", role: "search", "aria-label": "Answers" },
    h("div", { class: "field" }, h("label", { for: queryId }, "Search answers"), query),
    h("div", { class: "field" }, h("label", { for: categoryId }, "Category"), category));
  const hint = h("p", { class: "hint", id: `${queryId}-hint` },
    "Words or a shortcut such as /deposit; Enter inserts an exact shortcut.");
  const results = h("ul", { class: "results", "data-testid": "answers", "aria-label": "Answers found" });
  const count = h("p", { class: "muted", role: "status" });
  const previewTitle = h("h3", { id: uid("knowledge-preview") }, "Preview");
  const previewBody = h("p", { class: "preview-text", "data-testid": "answer-preview" });
  const insert = h("button", { type: "button", "aria-describedby": `${queryId}-blocked` }, "Insert");
  const blocked = h("p", { class: "hint", id: `${queryId}-blocked`, "data-testid": "insert-hint" });
  const preview = h("div", { class: "preview", role: "region", "aria-labelledby": previewTitle.id },
    previewTitle, previewBody, h("div", { class: "actions" }, insert), blocked);
  preview.hidden = true;
  const notice = feedback("knowledge");
  el.append(form, hint, count, results, preview, notice.el);

  let answers: Answer[] = [];
  let chosen: Answer | null = null;
  let conversation: Conversation | null = null;
  let searchSeq = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const updateInsert = (): void => {
    const why = insertBlocked(conversation);
    insert.disabled = why !== "" || chosen === null;
    blocked.textContent = why;
  };

  const choose = (answer: Answer | null): void => {
    chosen = answer;
    preview.hidden = answer === null;
    for (const b of results.querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(answer !== null && b.dataset["answer"] === answer.id));
    }
    if (answer !== null) {
      const shown = previewText(answer, answerLang(conversation));
      previewTitle.textContent = `${answer.title} (${answer.shortcut})`;
      previewBody.textContent = shown.text;
      previewBody.lang = shown.lang;
    }
    updateInsert();
  };

  const search = (): void => {
    clearTimeout(timer);
    const mine = ++searchSeq;
    const params = new URLSearchParams({ q: query.value.trim(), limit: "20" });
    if (category.value) params.set("category", category.value);
    void api<{ answers: unknown[]; categories: unknown[] }>("GET", `/api/knowledge?${params.toString()}`).then((ack) => {
      if (mine !== searchSeq) return;
      if (!ack.ok) {
        count.textContent = ack.message;
        return;
      }
      if (category.options.length <= 1) {
        category.append(...strings(ack.categories).map((c) => h("option", { value: c }, c)));
      }
      answers = parseAnswers(ack.answers);
      count.textContent = answers.length ? `${answers.length} answer${answers.length === 1 ? "" : "s"}.` : "No answer found.";
      results.replaceChildren(...answers.map((a) => {
        const button = h("button", { type: "button", class: "link", "data-answer": a.id, "aria-pressed": "false" },
          `${a.title} `, h("span", { class: "muted" }, `${a.shortcut} · ${a.category}`));
        button.addEventListener("click", () => choose(a));
        return h("li", { "data-testid": "answer" }, button);
      }));
      choose(exactShortcut(answers, query.value) ?? (chosen && answers.find((a) => a.id === chosen?.id)) ?? null);
    });
  };

  const insertChosen = (): void => {
    const answer = chosen;
    const target = conversation;
    if (answer === null || target === null || insertBlocked(target)) return;
    insert.disabled = true;
    void api<{ text: string }>("POST", `/api/knowledge/${encodeURIComponent(answer.id)}/render`,
      renderRequest(target, answerLang(target))).then((ack) => {
      updateInsert();
      if (!ack.ok) {
        notice.error(`Not inserted: ${ack.message}`);
        return;
      }
      bus.insertIntoChat(target.interaction, ack.text);
      notice.ok(`Inserted “${answer.title}” into the message box of ${target.name || "the conversation"}.`);
    });
  };

  query.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, SEARCH_DELAY_MS);
  });
  category.addEventListener("change", search);
  // Enter on an exact shortcut inserts it; otherwise it searches now.
  const submit = (): void => {
    const exact = exactShortcut(answers, query.value);
    if (exact !== null && chosen?.id === exact.id && !insert.disabled) {
      insertChosen();
      return;
    }
    search();
  };
  query.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.isComposing) return;
    event.preventDefault();
    submit();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  insert.addEventListener("click", insertChosen);

  bus.onSelect((selected) => {
    conversation = selected;
    choose(chosen);
  });
  search();
}
