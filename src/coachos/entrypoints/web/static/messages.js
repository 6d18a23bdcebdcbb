// Live SMS part count of a template as it is typed (Setup → Messages). The server's preview,
// with sample values filled in, stays the reference; this only counts the text as typed.
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "\f^{}\\[~]|€";

  function count(text) {
    var chars = Array.from(text);
    var gsm = chars.every(function (c) { return BASIC.indexOf(c) >= 0 || EXTENSION.indexOf(c) >= 0; });
    var costs = chars.map(function (c) {
      if (gsm) { return EXTENSION.indexOf(c) >= 0 ? 2 : 1; }
      return c.codePointAt(0) > 0xffff ? 2 : 1;
    });
    var units = costs.reduce(function (a, b) { return a + b; }, 0);
    var single = gsm ? 160 : 70, size = gsm ? 153 : 67;
    if (units <= single) { return { gsm: gsm, units: units, parts: 1 }; }
    var parts = 1, used = 0;
    costs.forEach(function (cost) {
      if (used + cost > size) { parts += 1; used = 0; }
      used += cost;
    });
    return { gsm: gsm, units: units, parts: parts };
  }

  var box = document.querySelector("textarea[data-sms-count='yes']");
  var out = document.getElementById("live-count");
  if (!box || !out) { return; }
  function show() {
    var c = count(box.value);
    out.textContent = "As typed (before placeholders are filled): " + c.units + (c.gsm ? " GSM-7 characters, " : " UCS-2 units, ") +
      c.parts + " part" + (c.parts === 1 ? "" : "s") + (c.gsm ? "." : " — a character outside the GSM alphabet makes it UCS-2.");
  }
  box.addEventListener("input", show);
  show();
})();
