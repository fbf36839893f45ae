/** The staff socket of a page, wired the same way everywhere: status, announcements, sign-out. */

import {
  NAMESPACES,
  type Socket,
  type StaffNamespace,
  connectStaff,
  onPush,
} from "../../../signaling/client/protocol";
import { type AnnouncementLog, type Feedback, goToLogin, showConnection } from "./page";

/**
 * Connects one staff namespace: connection status in `#connection`, announcements into the
 * log, the sign-in page when the session ends, refused events shown in `notice`.
 */
export function startStaffSocket(namespace: StaffNamespace, log: AnnouncementLog,
                                 notice: Feedback): Socket {
  const socket = connectStaff(namespace, { onState: showConnection, onSignedOut: goToLogin });
  onPush(socket, "announcement", (a) => log.add(a));
  onPush(socket, "session_ended", () => {
    socket.disconnect();
    goToLogin();
  });
  onPush(socket, "engage:error", (err) => notice.error(err.message));
  return socket;
}

export { NAMESPACES };
