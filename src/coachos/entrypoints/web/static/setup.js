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

// The automation form: show only the fields the chosen trigger and action use. Without JavaScript
// every field shows, and the server ignores the ones that do not apply.
(function () {
  "use strict";
  var form = document.querySelector("[data-automation-form]");
  if (!form) { return; }
  function update() {
    form.querySelectorAll("[data-show-when]").forEach(function (field) {
      var rule = field.getAttribute("data-show-when").split("=");
      var select = form.querySelector("select[name='" + rule[0] + "']");
      var shown = !select || rule[1].split(",").indexOf(select.value) !== -1;
      // Labels are display: block in app.css, which outranks the hidden attribute alone.
      field.hidden = !shown;
      field.style.display = shown ? "" : "none";
    });
  }
  form.querySelectorAll("select[name='trigger'], select[name='act']").forEach(function (select) {
    select.addEventListener("change", update);
  });
  update();
})();
