/**
 * The bulletin-board panel: the team's posts (pinned first, then newest), live from `bulletin`
 * pushes on the agent socket (reloaded after a reconnect, when pushes may have been missed),
 * a form to post a note, delete for one's own posts (supervisors: any, and pin). Text only.
 */

import type { ConsoleBus } from "../shell/console_bus";
import { api, feedback } from "../shell/page";
import { Board, type Post, canDelete, canPin, canPost } from "./bulletin_board";
import { type Json, formatDateTime } from "./wire";
import { h, uid } from "../../../signaling/client/dom";

const MAX_TEXT = 2000;

export function mountBulletin(bus: ConsoleBus, el: HTMLElement): void {
  el.dataset["panel"] = "bulletin";
  const board = new Board();
  const notice = feedback("bulletin");
  const list = h("ul", { class: "bulletin-posts", "data-testid": "bulletin-posts", "aria-label": "Posts",
                         "aria-live": "polite", "aria-relevant": "additions" });
  const empty = h("p", { class: "muted", "data-testid": "bulletin-empty" }, "Nothing on the board yet.");

  const render = (): void => {
    const posts = board.list(Date.now());
    empty.hidden = posts.length > 0;
    list.replaceChildren(...posts.map(item));
  };

  const item = (post: Post): HTMLElement => {
    const actions: HTMLElement[] = [];
    if (canPin(bus.role)) {
      const pin = h("button", { type: "button", class: "secondary" }, post.pinned ? "Unpin" : "Pin");
      pin.setAttribute("aria-label", `${post.pinned ? "Unpin" : "Pin"} the post by ${post.authorName}`);
      pin.addEventListener("click", () => {
        pin.disabled = true;
        void api<{ post: Json }>("POST", `/api/bulletin/${encodeURIComponent(post.id)}/pin`,
          { pinned: !post.pinned }).then((ack) => {
          pin.disabled = false;
          if (!ack.ok) {
            notice.error(ack.message);
            return;
          }
          board.add(ack.post);
          render();
        });
      });
      actions.push(pin);
    }
    if (canDelete(post, bus.username, bus.role)) {
      const own = post.author === bus.username;
      const del = h("button", { type: "button", class: "secondary danger" }, "Delete");
      del.setAttribute("aria-label", own ? "Delete your post" : `Delete the post by ${post.authorName}`);
      del.addEventListener("click", () => {
        del.disabled = true;
        void api("DELETE", `/api/bulletin/${encodeURIComponent(post.id)}`).then((ack) => {
          if (!ack.ok && ack.code !== "not_found") {
            del.disabled = false;
            notice.error(ack.message);
            return;
          }
          board.remove(post.id);
          notice.ok("Post deleted.");
          render();
          text.focus();
        });
      });
      actions.push(del);
    }
    return h("li", { class: post.pinned ? "pinned" : "", "data-testid": "bulletin-post", "data-post": post.id },
      post.pinned ? h("span", { class: "badge" }, "Pinned") : null,
      h("p", { class: "post-text" }, post.text),
      h("p", { class: "meta" }, `${post.authorName} · ${formatDateTime(post.createdMs)}`),
      actions.length ? h("div", { class: "actions" }, ...actions) : null);
  };

  // -- posting ---------------------------------------------------------------------------
  const textId = uid("bulletin-text");
  const text = h("textarea", { id: textId, rows: "2", maxlength: String(MAX_TEXT) });
  const pinNow = h("input", { type: "checkbox", id: uid("bulletin-pin") });
  const submit = h("button", { type: "submit" }, "Post");
  const form = h("form", { class: "stack bulletin-form", "aria-label": "Post to the board" },
    h("label", { for: textId }, "Note for the team"), text,
    canPin(bus.role) ? h("div", { class: "field check" }, pinNow, h("label", { for: pinNow.id }, "Pin it")) : null,
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!text.value.trim()) {
      notice.error("Write the note first.");
      text.focus();
      return;
    }
    submit.disabled = true;
    void api<{ post: Json }>("POST", "/api/bulletin",
      { text: text.value, ...(canPin(bus.role) && pinNow.checked ? { pinned: true } : {}) }).then((ack) => {
      submit.disabled = false;
      if (!ack.ok) {
        notice.error(ack.message);
        return;
      }
      board.add(ack.post);
      text.value = "";
      pinNow.checked = false;
      notice.ok("Posted.");
      render();
    });
  });
  if (canPost(bus.role)) el.append(form);
  el.append(notice.el, empty, list);

  // -- loading and live updates ----------------------------------------------------------
  let loadSeq = 0;
  const load = (): void => {
    const mine = ++loadSeq;
    board.beginLoad();
    void api<{ posts: unknown[] }>("GET", "/api/bulletin").then((ack) => {
      if (mine !== loadSeq) return;
      if (!ack.ok) {
        notice.error(`The board could not be loaded: ${ack.message}`);
        return;
      }
      board.reset(ack.posts);
      render();
    });
  };
  bus.socket.on("bulletin", (push: unknown) => {
    try {
      if (board.apply(push)) render();
    } catch (err) {
      console.error("engage: bulletin push failed", err);
    }
  });
  // Pushes sent while the socket was down are lost: read the board again on every connect.
  bus.socket.on("connect", load);
  load();
}
