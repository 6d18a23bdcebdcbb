// Coach OS public pages: show times in the visitor's own zone too. Without this file the pages
// still work and show the business's zone only.
"use strict";

(() => {
  if (!document.querySelector("[data-wants-tz]")) return;
  const url = new URL(window.location.href);
  if (url.searchParams.has("tz")) return; // asked once already (the server ignores a zone it does not know)
  let zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (_) {
    return;
  }
  if (!zone) return;
  url.searchParams.set("tz", zone);
  window.location.replace(url.toString());
})();
