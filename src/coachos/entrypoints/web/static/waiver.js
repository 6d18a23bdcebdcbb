// Signature pads on the waiver page: pointer strokes become path data (M/L, pad units) in a hidden field.
// Without this script the pads stay hidden and the typed name alone signs.
(function () {
  "use strict";
  const MAX = 19000; // characters; the server refuses more than 20 000

  document.querySelectorAll("[data-pad]").forEach(function (pad) {
    const canvas = pad.querySelector("canvas");
    const field = pad.querySelector("input[type=hidden]");
    const ctx = canvas.getContext("2d");
    let drawing = false;
    pad.hidden = false;
    ctx.lineWidth = 2;
    ctx.lineCap = "round";

    function point(event) {
      const box = canvas.getBoundingClientRect();
      const x = ((event.clientX - box.left) * canvas.width) / box.width;
      const y = ((event.clientY - box.top) * canvas.height) / box.height;
      return [Math.max(0, Math.min(canvas.width, x)).toFixed(1), Math.max(0, Math.min(canvas.height, y)).toFixed(1)];
    }

    function add(command, p) {
      const part = (field.value ? " " : "") + command + " " + p[0] + " " + p[1];
      if (field.value.length + part.length > MAX) return false;
      field.value += part;
      return true;
    }

    canvas.addEventListener("pointerdown", function (event) {
      const p = point(event);
      if (!add("M", p)) return;
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      ctx.beginPath();
      ctx.moveTo(p[0], p[1]);
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) return;
      const p = point(event);
      if (!add("L", p)) { drawing = false; return; }
      ctx.lineTo(p[0], p[1]);
      ctx.stroke();
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
      canvas.addEventListener(name, function () { drawing = false; });
    });
    pad.querySelector("[data-clear]").addEventListener("click", function () {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      field.value = "";
    });
  });

  // One submit: a second tap while the first is on its way does nothing (the server keeps one signature anyway).
  document.querySelectorAll("form.sign-form").forEach(function (form) {
    form.addEventListener("submit", function () {
      const button = form.querySelector("button:not([type=button])");
      window.setTimeout(function () { button.disabled = true; }, 0);
    });
  });
})();
