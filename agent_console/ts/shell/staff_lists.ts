/** The staff HTTP lists the console shell reads (`/api/queues`, `/api/agents`), parsed. Pure. */

import { isRecord, num, str } from "../../../signaling/client/agent";

export interface QueueInfo {
  id: string;
  name: string;
  offerTimeoutSeconds: number;
  wrapUpSeconds: number;
}

/** `GET /api/queues` → the queues by id. */
export function parseQueues(raw: unknown): Map<string, QueueInfo> {
  const out = new Map<string, QueueInfo>();
  const list = isRecord(raw) && Array.isArray(raw["queues"]) ? raw["queues"] : [];
  for (const q of list) {
    if (!isRecord(q) || typeof q["_id"] !== "string") continue;
    out.set(q["_id"], { id: q["_id"], name: str(q["name"], q["_id"]) || q["_id"],
                        offerTimeoutSeconds: num(q["offer_timeout_seconds"]),
                        wrapUpSeconds: num(q["wrap_up_seconds"]) });
  }
  return out;
}

export interface AgentInfo {
  username: string;
  displayName: string;
  state: string;
  reason: string;
  /** Channels the agent could take one more of right now. */
  takes: string[];
}

/** `GET /api/agents` → the roster. */
export function parseAgents(raw: unknown): AgentInfo[] {
  const list = isRecord(raw) && Array.isArray(raw["agents"]) ? raw["agents"] : [];
  const out: AgentInfo[] = [];
  for (const a of list) {
    if (!isRecord(a) || typeof a["username"] !== "string") continue;
    const takes = Array.isArray(a["takes"]) ? a["takes"].filter((x): x is string => typeof x === "string") : [];
    out.push({ username: a["username"], displayName: str(a["display_name"], a["username"]) || a["username"],
               state: str(a["state"], "offline"), reason: str(a["reason"]), takes });
  }
  return out;
}
