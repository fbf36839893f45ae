/** Entry of the widget iframe (`/widget/frame`): reads the page's context and starts the app. */

import { pickLang } from "../i18n";
import { WidgetApp } from "./app";

function main(): void {
  const root = document.getElementById("engage-widget");
  if (root === null) return;
  const data = document.body.dataset;
  const app = new WidgetApp({
    root,
    siteKey: data["siteKey"] ?? "",
    parentOrigin: data["parentOrigin"] ?? "",
    lang: pickLang(data["lang"]),
    siteName: data["siteName"] ?? "",
  });
  app.start();
}

main();
