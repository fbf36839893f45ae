/**
 * The bulletin-board model: posts from `GET /api/bulletin`, then `bulletin` pushes
 * (`{action: posted|pinned|deleted, post}`, signaling/bulletin_events.py) applied in any order,
 * pinned first then newest, expired ones left out; who may delete or pin what.
 * Pure: no DOM, tested in node.
 */

import { isRecord, list, num, record, str } from "./wire";

export interface Post {
  id: string;
  text: string;
  author: string;
  authorName: string;
  pinned: boolean;
  createdMs: number;
  expiresMs: number | null;
}

export const MODERATORS: readonly string[] = ["supervisor", "admin"];
export const POSTERS: readonly string[] = ["agent", "supervisor", "admin"];

export function parsePost(raw: unknown): Post | null {
  if (!isRecord(raw)) return null;
  const id = str(raw["post_id"]);
  if (!id) return null;
  const author = record(raw["author"]);
  const expires = raw["expires_ms"];
  return {
    id, text: str(raw["text"], "", 4000), author: str(author["username"]),
    authorName: str(author["display_name"]) || str(author["username"], "someone"),
    pinned: raw["pinned"] === true, createdMs: num(raw["created_ms"]),
    expiresMs: typeof expires === "number" ? expires : null,
  };
}

export class Board {
  private posts = new Map<string, Post>();
  /** Ids deleted meanwhile: a list read before the deletion must not bring them back. */
  private deleted = new Set<string>();
  /** Posts pushed since the last list request began: newer than whatever it answers. */
  private fresh = new Map<string, Post>();

  /** A list request starts (on loading or after a reconnect). */
  beginLoad(): void {
    this.fresh = new Map();
  }

  /** Replaces the board with the list's answer, keeping what was pushed since it began. */
  reset(raw: unknown): void {
    this.posts = new Map();
    for (const item of list(raw)) {
      const post = parsePost(item);
      if (post !== null && !this.deleted.has(post.id)) this.posts.set(post.id, post);
    }
    for (const [id, post] of this.fresh) this.posts.set(id, post);
  }

  private keep(post: Post): void {
    this.posts.set(post.id, post);
    this.fresh.set(post.id, post);
  }

  /** A `bulletin` push; returns whether the board changed. */
  apply(push: unknown): boolean {
    if (!isRecord(push)) return false;
    const action = push["action"];
    if (action === "deleted") {
      const id = str(record(push["post"])["post_id"]);
      const had = this.posts.has(id);
      this.remove(id);
      return had;
    }
    if (action !== "posted" && action !== "pinned") return false;
    const post = parsePost(push["post"]);
    if (post === null || this.deleted.has(post.id)) return false;
    this.keep(post);
    return true;
  }

  /** The server's answer about a post (our own post, a pin); a push may come before or after. */
  add(raw: unknown): void {
    const post = parsePost(raw);
    if (post !== null && !this.deleted.has(post.id)) this.keep(post);
  }

  remove(id: string): void {
    this.deleted.add(id);
    this.posts.delete(id);
    this.fresh.delete(id);
  }

  /** Live posts, pinned first, then newest first. */
  list(nowMs: number): Post[] {
    return [...this.posts.values()]
      .filter((p) => p.expiresMs === null || p.expiresMs > nowMs)
      .sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.createdMs - a.createdMs);
  }
}

export function canDelete(post: Post, username: string, role: string): boolean {
  return MODERATORS.includes(role) || (POSTERS.includes(role) && post.author === username);
}

export function canPin(role: string): boolean {
  return MODERATORS.includes(role);
}

export function canPost(role: string): boolean {
  return POSTERS.includes(role);
}
