// Setup pages: an "Add a period" button per weekday that copies that day's last time row.
// Without JavaScript each day still shows one empty row, so the form works (one new period per save).
(function () {
  "use strict";
  document.querySelectorAll("[data-add-period]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var rows = button.parentElement.querySelectorAll(".period");
      var copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      button.parentElement.insertBefore(copy, button);
      copy.querySelector("input").focus();
    });
  });
})();
