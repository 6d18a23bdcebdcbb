// Coach OS: progressive enhancement only. Pages work without this file; it adds fetching panels.
"use strict";

const CoachOS = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  /** fetch() that sends the CSRF header and asks for JSON errors. */
  async function request(url, options = {}) {
    const headers = Object.assign({ "X-CSRF-Token": csrf(), Accept: options.accept || "application/json" }, options.headers || {});
    return fetch(url, Object.assign({ credentials: "same-origin" }, options, { headers }));
  }

  /** Why a response failed, in words a person can act on. */
  async function reason(response) {
    try {
      const body = await response.json();
      return body.detail || body.title || `The server answered ${response.status}.`;
    } catch (_) {
      return `The server answered ${response.status}.`;
    }
  }

  /**
   * Load one panel's HTML into `el` from its data-panel-url. A failure shows the reason and a
   * Retry button in that panel only; other panels are not affected.
   */
  async function loadPanel(el) {
    el.setAttribute("aria-busy", "true");
    try {
      const response = await request(el.dataset.panelUrl, { accept: "text/html, application/problem+json;q=0.9" });
      if (!response.ok) throw new Error(await reason(response));
      el.innerHTML = await response.text();
      el.dataset.state = "ready";
    } catch (error) {
      el.dataset.state = "error";
      el.innerHTML = "";
      const box = document.createElement("p");
      box.className = "error";
      box.setAttribute("role", "alert");
      box.textContent = `Could not load ${el.dataset.panelName || "this section"}: ${error.message || "network error"}`;
      const retry = document.createElement("button");
      retry.type = "button";
      retry.textContent = "Retry";
      retry.addEventListener("click", () => loadPanel(el));
      box.appendChild(retry);
      el.appendChild(box);
    } finally {
      el.removeAttribute("aria-busy");
    }
  }

  function loadPanels(root = document) {
    root.querySelectorAll("[data-panel-url]").forEach((el) => loadPanel(el));
  }

  /** Preselect the browser's zone in a <select data-detect> (it is only a suggestion; the org stores its own). */
  function detectZone() {
    const select = document.querySelector("select[data-detect]");
    if (!select || select.dataset.chosen) return;
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) return;
    if (![...select.options].some((o) => o.value === zone)) select.add(new Option(zone, zone), 0);
    select.value = zone;
  }

  document.addEventListener("DOMContentLoaded", () => {
    loadPanels();
    detectZone();
  });
  return { request, reason, loadPanel, loadPanels };
})();
