/**
 * The admin page: staff accounts (list, add, disable/enable) and widget sites (list, save),
 * over the /api/admin JSON API; announcements arrive over /supervisor.
 */

import { NAMESPACES, startStaffSocket } from "./shell/staff_socket";
import { announcementLog, api, feedback, pageContext, section } from "./shell/page";
import { h } from "../../signaling/client/dom";

interface StaffUser {
  username: string;
  role: string;
  display_name: string;
  disabled: boolean;
}

interface Site {
  site_key: string;
  name: string;
  allowed_origins: string[];
}

const ROLES = ["agent", "supervisor", "marketer", "admin"] as const;

// -- staff accounts -------------------------------------------------------------------

function usersPanel(): HTMLElement {
  const result = feedback("users");
  const body = h("tbody", { "data-testid": "users" });
  const table = h("table", { class: "data" },
    h("caption", {}, "Staff accounts"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Username"),
      h("th", { scope: "col" }, "Name"),
      h("th", { scope: "col" }, "Role"),
      h("th", { scope: "col" }, "Status"),
      h("th", { scope: "col" }, "Action"))),
    body);

  const setDisabled = async (user: StaffUser, button: HTMLButtonElement): Promise<void> => {
    button.disabled = true;
    const verb = user.disabled ? "enable" : "disable";
    const ack = await api<{ user: StaffUser }>(
      "POST", `/api/admin/users/${encodeURIComponent(user.username)}/${verb}`);
    if (ack.ok) {
      result.ok(`${user.username} ${verb}d.`);
      await load(`action-${user.username}`);
    } else {
      button.disabled = false;
      result.error(ack.message);
    }
  };

  const row = (user: StaffUser): HTMLTableRowElement => {
    const label = user.disabled ? "Enable" : "Disable";
    const button = h("button", { type: "button", id: `action-${user.username}`,
                                 class: user.disabled ? "" : "secondary",
                                 "aria-label": `${label} ${user.username}` }, label);
    button.addEventListener("click", () => void setDisabled(user, button));
    return h("tr", { "data-testid": "user-row", "data-username": user.username },
      h("th", { scope: "row" }, user.username),
      h("td", {}, user.display_name),
      h("td", {}, user.role),
      h("td", {}, user.disabled ? "disabled" : "active"),
      h("td", {}, button));
  };

  /** Reloads the table; `focusId` puts focus back on a control that was re-rendered. */
  const load = async (focusId?: string): Promise<void> => {
    const ack = await api<{ users: StaffUser[] }>("GET", "/api/admin/users");
    if (!ack.ok) {
      result.error(ack.message);
      return;
    }
    body.replaceChildren(...ack.users.map(row));
    if (focusId !== undefined) document.getElementById(focusId)?.focus();
  };

  const username = h("input", { id: "new-username", name: "username", required: true,
                                autocomplete: "off", maxlength: "40", pattern: "[a-z0-9][a-z0-9._\\-]{1,39}",
                                "aria-describedby": "new-username-hint" });
  const displayName = h("input", { id: "new-display-name", name: "display_name", maxlength: "80",
                                   autocomplete: "off" });
  const password = h("input", { id: "new-password", name: "password", type: "password", required: true,
                                minlength: "10", maxlength: "1024", autocomplete: "new-password" });
  const role = h("select", { id: "new-role", name: "role" },
    ...ROLES.map((r) => h("option", { value: r }, r)));
  const add = h("button", { type: "submit" }, "Add user");
  const form = h("form", { class: "stack", "aria-label": "Add a staff account" },
    h("h3", {}, "Add a staff account"),
    h("label", { for: "new-username" }, "Username"), username,
    h("p", { class: "hint", id: "new-username-hint" },
      "2–40 characters: a–z, 0–9, '.', '_' or '-'."),
    h("label", { for: "new-display-name" }, "Display name"), displayName,
    h("label", { for: "new-password" }, "Password (at least 10 characters)"), password,
    h("label", { for: "new-role" }, "Role"), role,
    h("div", { class: "actions" }, add));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    add.disabled = true;
    result.clear();
    const payload = { username: username.value.trim(), password: password.value,
                      role: role.value, display_name: displayName.value.trim() };
    void api<{ user: StaffUser }>("POST", "/api/admin/users", payload).then(async (ack) => {
      add.disabled = false;
      if (!ack.ok) {
        result.error(ack.message);
        return;
      }
      form.reset();
      result.ok(`${ack.user.username} added.`);
      await load();
      username.focus();
    });
  });

  const panel = section("users", "Staff");
  panel.append(h("div", { class: "table-wrap" }, table), result.el, form);
  void load();
  return panel;
}

// -- sites ----------------------------------------------------------------------------

function sitesPanel(): HTMLElement {
  const result = feedback("sites");
  const list = h("ul", { class: "sites", "data-testid": "sites" });

  const load = async (): Promise<void> => {
    const ack = await api<{ sites: Site[] }>("GET", "/api/admin/sites");
    if (!ack.ok) {
      result.error(ack.message);
      return;
    }
    list.replaceChildren(...ack.sites.map((site) => h("li", { "data-testid": "site" },
      h("strong", {}, site.name), ` (${site.site_key}): `,
      site.allowed_origins.length > 0 ? site.allowed_origins.join(", ") : "no allowed origins")));
    if (ack.sites.length === 0) list.append(h("li", { class: "muted" }, "No sites yet."));
  };

  const key = h("input", { id: "site-key", name: "site_key", required: true, maxlength: "64",
                           pattern: "[A-Za-z0-9_\\-]{4,64}", autocomplete: "off" });
  const name = h("input", { id: "site-name", name: "name", required: true, maxlength: "120",
                            autocomplete: "off" });
  const origins = h("textarea", { id: "site-origins", name: "allowed_origins", rows: "3",
                                  "aria-describedby": "site-origins-hint" });
  const save = h("button", { type: "submit" }, "Save site");
  const form = h("form", { class: "stack", "aria-label": "Add or update a site" },
    h("h3", {}, "Add or update a site"),
    h("label", { for: "site-key" }, "Site key"), key,
    h("label", { for: "site-name" }, "Name"), name,
    h("label", { for: "site-origins" }, "Allowed origins"), origins,
    h("p", { class: "hint", id: "site-origins-hint" },
      "One per line, exactly scheme://host[:port], e.g. https://www.example.com."),
    h("div", { class: "actions" }, save));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save.disabled = true;
    result.clear();
    const allowed = origins.value.split(/\s+/).map((o) => o.trim()).filter((o) => o !== "");
    const path = `/api/admin/sites/${encodeURIComponent(key.value.trim())}`;
    void api<{ site: Site }>("PUT", path, { name: name.value.trim(), allowed_origins: allowed })
      .then(async (ack) => {
        save.disabled = false;
        if (!ack.ok) {
          result.error(ack.message);
          return;
        }
        form.reset();
        result.ok(`Site ${ack.site.site_key} saved.`);
        await load();
      });
  });

  const panel = section("sites", "Sites");
  panel.append(list, result.el, form);
  void load();
  return panel;
}

function main(): void {
  const ctx = pageContext();
  const log = announcementLog();
  const notice = feedback("admin");
  startStaffSocket(NAMESPACES.supervisor, log, notice);
  log.el.append(notice.el);
  ctx.root.append(h("div", { class: "columns" }, usersPanel(), sitesPanel()), log.el);
}

main();
