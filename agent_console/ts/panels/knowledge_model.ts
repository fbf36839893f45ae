/**
 * The canned-answer model: answers from `GET /api/knowledge`, shortcut typing ("/refund"), the
 * language and variables an answer is rendered with for the selected conversation.
 * Pure: no DOM, tested in node.
 */

import type { Conversation } from "../shell/console_bus";
import { type Json, isRecord, list, record, str, strings } from "./wire";

export interface Answer {
  id: string;
  title: string;
  category: string;
  shortcut: string;
  tags: string[];
  /** Text per language ("en", "zh"), variables still as written ({visitor_name}). */
  text: Record<string, string>;
}

export function parseAnswers(raw: unknown): Answer[] {
  return list(raw).filter(isRecord).map((a) => {
    const text: Record<string, string> = {};
    for (const [lang, value] of Object.entries(record(a["text"]))) {
      if (typeof value === "string") text[lang] = value;
    }
    return { id: str(a["answer_id"]), title: str(a["title"], "", 200), category: str(a["category"], "", 60),
             shortcut: str(a["shortcut"], "", 40), tags: strings(a["tags"]), text };
  }).filter((a) => a.id);
}

/** A typed shortcut as the server stores it: "/Refund " -> "/refund"; "" when not one. */
export function typedShortcut(query: string): string {
  const q = query.trim().toLowerCase();
  return /^\/[a-z0-9][a-z0-9_-]{0,31}$/.test(q) ? q : "";
}

/** The answer whose shortcut is exactly what was typed, if any. */
export function exactShortcut(answers: readonly Answer[], query: string): Answer | null {
  const shortcut = typedShortcut(query);
  return shortcut ? answers.find((a) => a.shortcut === shortcut) ?? null : null;
}

/** The language to answer in: the visitor's widget language, else English. */
export function answerLang(conversation: Conversation | null): "en" | "zh" {
  const lang = str(record(conversation?.context["client"])["lang"]);
  return lang === "zh" || lang.startsWith("zh-") ? "zh" : "en";
}

/** The text shown as the preview: the answer in `lang`, else in its other language. */
export function previewText(answer: Answer, lang: string): { text: string; lang: string } {
  const own = answer.text[lang];
  if (own) return { text: own, lang };
  const [other, text] = Object.entries(answer.text)[0] ?? ["", ""];
  return { text, lang: other };
}

/** The render request for inserting into the conversation; the server fills in the rest. */
export function renderRequest(conversation: Conversation, lang: string): Json {
  const values: Record<string, string> = {};
  const name = conversation.name || str(record(conversation.context["client"])["name"], "", 200);
  if (name) values["visitor_name"] = name;
  return { lang, interaction: conversation.interaction, values };
}

/** Why inserting is not possible now ("" when it is). */
export function insertBlocked(conversation: Conversation | null): string {
  if (conversation === null) return "Select a conversation to insert an answer into it.";
  if (conversation.state === "offered") return "Accept the conversation first to insert an answer.";
  return "";
}
