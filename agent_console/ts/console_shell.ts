/**
 * The console shell (skeleton: filled by its owner): agent state selector, incoming offers,
 * conversation tabs with chat, wrap-up, transfer, notifications and the rebuild after a
 * reconnect from `acd.status` + `chat.sync`.
 */

import type { ConsoleBus } from "./console_bus";

export interface ShellRegions {
  /** Where the state selector goes (inside the "Your session" panel). */
  state: HTMLElement;
  /** Incoming offers. */
  offers: HTMLElement;
  /** Tabs and the selected conversation (chat, call panel, wrap-up, transfer). */
  conversations: HTMLElement;
}

export function mountShell(bus: ConsoleBus, regions: ShellRegions): void {
  void bus;
  void regions;
}
