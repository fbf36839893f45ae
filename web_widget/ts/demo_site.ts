/**
 * The demo host page's own script (not part of the widget): a small single-page app with
 * pushState navigation, a button that does nothing (a dead click), one that throws (an error
 * click) and a form — what the widget's sensors are there to notice.
 */

function show(view: string): void {
  for (const section of document.querySelectorAll<HTMLElement>("[data-view]")) {
    section.hidden = section.dataset["view"] !== view;
  }
}

function viewOf(path: string): string {
  const last = path.replace(/\/+$/, "").split("/").pop() ?? "";
  return last === "listings" || last === "mortgage" ? last : "home";
}

document.addEventListener("click", (event) => {
  const link = (event.target as Element | null)?.closest<HTMLAnchorElement>("a[data-spa]");
  if (!link) return;
  event.preventDefault();
  history.pushState({ view: link.dataset["spa"] }, "", link.href);
  document.title = `${link.textContent ?? ""} — Shanghai Homes`;
  show(link.dataset["spa"] ?? "home");
});

window.addEventListener("popstate", () => show(viewOf(location.pathname)));

document.getElementById("crash-button")?.addEventListener("click", () => {
  // A bug in the host page: the error click the sensors report.
  throw new Error("price comparison service unavailable");
});

document.getElementById("mortgage-form")?.addEventListener("submit", (event) => {
  event.preventDefault();
});

show(viewOf(location.pathname));
