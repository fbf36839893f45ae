/**
 * The chat of one conversation on the agent's side: the shared ChatController (outbox, sync,
 * receipts, typing, pushes) under this agent's outbox prefix, rendered by a ChatView.
 */

import type { ChatMessage } from "../../../signaling/client/visitor";
import { ChatController } from "../../../signaling/client/chat_controller";
import { type StorageLike, uuid } from "../../../signaling/client/dom";
import type { Socket } from "../../../signaling/client/protocol";
import { ChatView } from "./chat_view";

export function outboxPrefix(username: string): string {
  return `engage.console.${username}.outbox.`;
}

export interface ChatDeps {
  socket: Socket;
  storage: StorageLike | null;
  username: string;
  /** The visitor's name as the agent knows it (typing line, log label). */
  peer: string;
  /** The conversation is on screen and the page visible: visitor messages count as read. */
  seen(): boolean;
  /** Whether this agent writes in it (the owner while connected) or only reads. */
  writer(): boolean;
  onVisitorMessage(message: ChatMessage): void;
}

/** One conversation's chat on the agent's side: the shared controller and its view. */
export interface AgentChat {
  controller: ChatController;
  view: ChatView;
}

export function createAgentChat(interaction: string, deps: ChatDeps, consultant: boolean): AgentChat {
  const view: ChatView = new ChatView(deps.peer, consultant ? "colleague" : "own", {
    send: (text) => controller.send(text),
    typing: () => controller.typed(),
  });
  const render = (): void => view.render(controller.log.entries(), (entry) => controller.log.delivery(entry));
  const controller: ChatController = new ChatController({
    self: "agent", interaction, socket: () => deps.socket, storage: deps.storage,
    outboxPrefix: outboxPrefix(deps.username), newId: uuid,
  }, {
    onChange: render,
    onPeerTyping: (typing) => view.setTyping(typing ? `${deps.peer} is typing…` : ""),
    onPeerMessage: (message) => deps.onVisitorMessage(message),
    seen: () => deps.seen(),
    writer: () => deps.writer(),
  });
  render();
  return { controller, view };
}
