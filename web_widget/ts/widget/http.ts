/** The widget's bearer-token HTTP calls: attachment upload and download, transcript download. */

import { type Ack, CLIENT_CODES, errorAck, normalizeAck } from "../../../signaling/client/ack";
import { type AttachmentInfo, parseAttachment } from "../../../signaling/client/visitor";
import type { VisitorTokens } from "./token";

/** Where the visitor (bearer token) downloads an attachment of their conversation. */
export function attachmentPath(id: string): string {
  return `/api/visitor/attachments/${encodeURIComponent(id)}`;
}

const STATUS_CODES: Readonly<Record<number, string>> = { 413: "too_large", 415: "unsupported_type" };

export class VisitorHttp {
  constructor(private readonly tokens: VisitorTokens) {}

  async upload(interaction: string, file: File): Promise<Ack<{ attachment: AttachmentInfo }>> {
    const form = new FormData();
    form.append("interaction", interaction);
    form.append("file", file, file.name);
    let response: Response;
    try {
      response = await this.send("/api/visitor/attachments", { method: "POST", body: form });
    } catch {
      return errorAck(CLIENT_CODES.network, "could not reach the server");
    }
    const ack = normalizeAck<{ attachment: unknown }>(await response.json().catch(() => null));
    if (!ack.ok) {
      const code = STATUS_CODES[response.status];
      return code !== undefined && ack.code === CLIENT_CODES.badAck ? errorAck(code, code) : ack;
    }
    const attachment = parseAttachment(ack.attachment);
    return attachment === undefined ? errorAck(CLIENT_CODES.badAck, "no attachment in the answer")
      : { ok: true, attachment };
  }

  /** The file of an attachment (images are shown from a blob URL), or null. */
  async attachment(id: string): Promise<Blob | null> {
    return this.blob(attachmentPath(id), { method: "GET" });
  }

  async transcript(interaction: string): Promise<Blob | null> {
    return this.blob("/api/visitor/transcript", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ interaction }),
    });
  }

  private async blob(path: string, init: RequestInit): Promise<Blob | null> {
    try {
      const response = await this.send(path, init);
      return response.ok ? await response.blob() : null;
    } catch {
      return null;
    }
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    const token = await this.tokens.current();
    const headers = new Headers(init.headers);
    if (token !== null) headers.set("Authorization", `Bearer ${token}`);
    return fetch(path, { ...init, headers, credentials: "omit" });
  }
}
