/** The widget's outbox: the shared one in signaling/client/outbox.ts (widget key prefix). */

export * from "../../../signaling/client/outbox";
