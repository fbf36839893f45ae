/** The widget's chat model: the shared one in signaling/client/chat_log.ts (visitor side). */

export * from "../../../signaling/client/chat_log";
