/** Socket payload types, generated from signaling/schemas.py by npm run gen:types: do not edit. */

export type TrailEvent =
  PageView | PageLeave | Click | FormStep | JsError | HttpError | Signal | Heartbeat | ConversionEvent;

/**
 * Client event payloads of the Socket.IO contract (signaling/schemas.py).
 */
export interface EngagePayloads {
  AgentPayloads: AgentPayloads;
  SupervisorPayloads: SupervisorPayloads;
  VisitorPayloads: VisitorPayloads;
  TrailEvent: TrailEvent;
}
export interface AgentPayloads {
  "acd.accept": InteractionRef;
  "acd.complete": InteractionRef;
  "acd.consult_accept": InteractionRef;
  "acd.consult_cancel": InteractionRef;
  "acd.consult_complete": InteractionRef;
  "acd.decline": InteractionRef;
  "acd.state": SetState;
  "acd.status": Empty;
  "acd.transfer": Transfer;
  "acd.wrap_up": WrapUp;
  "call.consent": CallConsent;
  "call.hangup": CallRef;
  "call.media": CallMediaChange;
  "call.propose": CallPropose;
  "call.signal": CallSignal;
  "chat.receipt": ChatReceipt;
  "chat.send": ChatSend;
  "chat.sync": ChatSync;
  "chat.typing": ChatTyping;
  ping: Echo;
  "visit.watch": InteractionRef;
  whoami: Empty;
}
export interface InteractionRef {
  interaction: string;
}
export interface SetState {
  state: "available" | "away" | "offline";
  reason?: string;
}
export interface Empty {}
export interface Transfer {
  interaction: string;
  to_queue?: string | null;
  to_agent?: string | null;
  mode?: "cold" | "warm";
}
export interface WrapUp {
  interaction: string;
  disposition:
    "callback_requested" | "follow_up" | "not_resolved" | "resolved" | "sale_opportunity" | "spam" | "transferred";
  note?: string;
}
export interface CallConsent {
  call: string;
  accept: boolean;
  record_consent?: boolean;
}
export interface CallRef {
  call: string;
}
export interface CallMediaChange {
  call: string;
  media: "audio" | "video";
}
export interface CallPropose {
  interaction: string;
  media: "audio" | "video";
  record_consent?: boolean;
}
export interface CallSignal {
  call: string;
  kind: "answer" | "ice" | "offer" | "restart";
  sdp?: string | null;
  candidate?: IceCandidateInit | null;
}
/**
 * The browser's RTCIceCandidateInit; "" as candidate means end of candidates.
 */
export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}
export interface ChatReceipt {
  interaction: string;
  seq: number;
  kind: "delivered" | "read";
}
export interface ChatSend {
  interaction: string;
  client_id: string;
  text?: string;
  attachment?: string | null;
}
export interface ChatSync {
  interaction: string;
  after_seq?: number;
}
export interface ChatTyping {
  interaction: string;
  typing: boolean;
}
/**
 * A round trip to measure latency and prove the channel; the text comes back.
 */
export interface Echo {
  text?: string;
}
export interface SupervisorPayloads {
  announce: Announce;
  ping: Echo;
  whoami: Empty;
}
export interface Announce {
  text: string;
  level?: string;
}
export interface VisitorPayloads {
  "call.consent": CallConsent;
  "call.hangup": CallRef;
  "call.media": CallMediaChange;
  "call.propose": CallPropose;
  "call.signal": CallSignal;
  "chat.rate": ChatRate;
  "chat.receipt": ChatReceipt;
  "chat.send": ChatSend;
  "chat.sync": ChatSync;
  "chat.transcript": ChatTranscript;
  "chat.typing": ChatTyping;
  "contact.callback": CallbackRequest;
  "contact.cancel": InteractionRef;
  "contact.message": LeaveMessage;
  "contact.request": ContactRequest;
  "contact.status": InteractionRef;
  "invite.respond": InviteRespond;
  ping: Echo;
  "visit.events": VisitEvents;
  "visit.hello": VisitHello;
  "visitor.opt_out": OptOut;
  whoami: Empty;
}
export interface ChatRate {
  interaction: string;
  score: number;
  comment?: string;
}
export interface ChatTranscript {
  interaction: string;
  email: string;
}
export interface CallbackRequest {
  name: string;
  phone: string;
  queue?: string | null;
}
export interface LeaveMessage {
  name: string;
  text: string;
  email?: string;
  phone?: string;
  queue?: string | null;
}
export interface ContactRequest {
  channel?: "chat" | "cobrowse" | "video" | "voice";
  queue?: string | null;
  context?: {};
  invite?: string | null;
}
export interface InviteRespond {
  invite: string;
  action: "accept" | "dismiss";
}
export interface VisitEvents {
  /**
   * @maxItems 50
   */
  events: (PageView | PageLeave | Click | FormStep | JsError | HttpError | Signal | Heartbeat | ConversionEvent)[];
}
export interface PageView {
  type: "page";
  title?: string;
  referrer?: string;
  nav?: "load" | "pop" | "push" | "replace";
  at: number;
  url?: string;
}
export interface PageLeave {
  type: "leave";
  dwell_ms?: number;
  at: number;
  url?: string;
}
export interface Click {
  type: "click";
  target?: string;
  x?: number;
  y?: number;
  at: number;
  url?: string;
}
export interface FormStep {
  type: "form";
  form?: string;
  step?: string;
  action?: "focus" | "invalid" | "submit";
  at: number;
  url?: string;
}
export interface JsError {
  type: "error";
  message?: string;
  source?: string;
  at: number;
  url?: string;
}
export interface HttpError {
  type: "http_error";
  status: number;
  at: number;
  url?: string;
}
/**
 * A raw struggle measurement; the server's policy decides what it means.
 */
export interface Signal {
  type: "signal";
  kind: "dead_click" | "error_click" | "form_idle" | "form_thrash" | "help_click" | "rage_click";
  count?: number;
  span_ms?: number;
  radius_px?: number;
  wait_ms?: number;
  idle_ms?: number;
  cycles?: number;
  target?: string;
  form?: string;
  field?: string;
  step?: string;
  message?: string;
  at: number;
  url?: string;
}
export interface Heartbeat {
  type: "heartbeat";
  dwell_ms?: number;
  at: number;
  url?: string;
}
export interface ConversionEvent {
  type: "conversion";
  value?: number;
  at: number;
  url?: string;
}
export interface VisitHello {
  page: PageInfo;
  lang?: "en" | "zh";
}
export interface PageInfo {
  url: string;
  title?: string;
  referrer?: string;
}
export interface OptOut {
  opted_out: boolean;
}
