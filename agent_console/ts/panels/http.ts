/**
 * A same-origin JSON call that keeps the whole answer body, for the few answers whose error
 * carries data the panel shows (a ledger edit's 409 with `changes_since`). Other calls use
 * shell.ts `api()`.
 */

import { goToLogin } from "../shell/page";
import { type Json, isRecord } from "./wire";

export interface HttpAnswer {
  status: number;
  ok: boolean;
  code: string;
  message: string;
  body: Json;
}

export async function send(method: "GET" | "POST" | "PATCH" | "DELETE", path: string,
                           body?: object): Promise<HttpAnswer> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, {
      method, credentials: "same-origin", headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    return { status: 0, ok: false, code: "network", message: "could not reach the server", body: {} };
  }
  if (response.status === 401) goToLogin();
  const raw: unknown = await response.json().catch(() => null);
  const answer = isRecord(raw) ? raw : {};
  const ok = response.ok && answer["ok"] === true;
  return {
    status: response.status, ok, body: answer,
    code: ok ? "" : typeof answer["code"] === "string" ? answer["code"] : `http_${response.status}`,
    message: ok ? "" : typeof answer["message"] === "string" ? answer["message"]
      : `the server answered ${response.status}`,
  };
}
