// Coach OS inbox: the live SMS part count under a reply box, and one submission per reply form.
// The server counts the same way (domain/messaging.py count_segments) and shows it again on error.
"use strict";

(() => {
  // GSM 03.38: the basic set costs one septet a character, the extension two (tests compare these to Python's).
  const GSM7_BASIC = new Set("\n\r !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz¡£¤¥§¿ÄÅÆÇÉÑÖØÜßàäåæèéìñòöøùüΓΔΘΛΞΠΣΦΨΩ");
  const GSM7_EXTENSION = new Set("\f[\\]^{|}~€");

  /** Encoding, units and parts of an SMS body, as count_segments computes them. */
  function countSegments(body) {
    const chars = [...body];
    const gsm = chars.every((c) => GSM7_BASIC.has(c) || GSM7_EXTENSION.has(c));
    const costs = gsm
      ? chars.map((c) => (GSM7_EXTENSION.has(c) ? 2 : 1))
      : chars.map((c) => (c.codePointAt(0) > 0xffff ? 2 : 1));
    const encoding = gsm ? "GSM-7" : "UCS-2";
    const single = gsm ? 160 : 70;
    const size = gsm ? 153 : 67;
    const units = costs.reduce((a, b) => a + b, 0);
    if (units <= single) return { encoding, units, parts: 1, single, size };
    let parts = 1;
    let used = 0;
    for (const cost of costs) {
      if (used + cost > size) {
        parts += 1;
        used = 0;
      }
      used += cost;
    }
    return { encoding, units, parts, single, size };
  }

  function describe(found) {
    if (found.parts === 1) return `1 text message: ${found.units}/${found.single} characters (${found.encoding})`;
    return `${found.parts} text messages: ${found.units} characters (${found.encoding}, ${found.size} per part)`;
  }

  // Delegated, so reply boxes that arrive later (the client page's panels) count too.
  document.addEventListener("input", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLTextAreaElement) || !box.hasAttribute("data-segments")) return;
    const hint = document.getElementById(box.getAttribute("aria-describedby"));
    if (hint) hint.textContent = describe(countSegments(box.value));
  });

  // A second click while the first submission is on its way would send the same form id again
  // (the server would keep one message anyway); disabling the button just avoids the wait.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-reply")) return;
    const button = form.querySelector("button");
    if (button) setTimeout(() => { button.disabled = true; }, 0);
  });

  window.CoachOSInbox = { countSegments, describe };
})();
