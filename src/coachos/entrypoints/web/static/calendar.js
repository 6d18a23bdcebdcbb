// Coach OS calendar: refresh the bookings every 30 s. The page works without this file.
//
// The range asked for is exactly the one the server wrote into the calendar element
// (data-range-start / data-range-end, UTC); nothing here reads the browser's clock or zone.
// Every label shown comes from the server, already in the organisation's zone.
"use strict";

(() => {
  const POLL_MS = 30000;

  function setup() {
    const cal = document.querySelector("[data-calendar]");
    const template = document.getElementById("cal-event-template");
    // app.js declares CoachOS with `const`, so it is a global binding but not a property of window.
    if (!cal || !template || typeof CoachOS === "undefined") return;
    const status = document.querySelector("[data-calendar-status]");
    const url =
      `${cal.dataset.eventsUrl}?start=${encodeURIComponent(cal.dataset.rangeStart)}` +
      `&end=${encodeURIComponent(cal.dataset.rangeEnd)}`;
    let shown = null;

    /** A list item for one event, cloned from the server-rendered blank one. */
    function item(event) {
      const li = template.content.firstElementChild.cloneNode(true);
      li.dataset.bookingId = event.id;
      li.className = `cal-event status-${event.status}`;
      li.querySelector("time").dateTime = event.start;
      li.querySelectorAll("[data-field]").forEach((el) => {
        el.textContent = event[el.dataset.field] ?? "";
      });
      li.querySelectorAll("[data-href]").forEach((el) => {
        el.href = event[el.dataset.href];
      });
      li.querySelectorAll("form[data-action]").forEach((form) => {
        form.action = event[form.dataset.action];
      });
      const move = li.querySelector("form[data-action=move_url]");
      if (move) {
        move.elements.namedItem("date").value = event.local_date;
        move.elements.namedItem("time").value = event.local_time;
      }
      const actions = li.querySelector(".cal-actions");
      if (actions) actions.hidden = !event.open;
      return li;
    }

    function render(events) {
      const byDay = new Map();
      events.forEach((event) => {
        if (!byDay.has(event.local_date)) byDay.set(event.local_date, []);
        byDay.get(event.local_date).push(item(event));
      });
      cal.querySelectorAll("[data-date]").forEach((day) => {
        const items = byDay.get(day.dataset.date) || [];
        day.querySelector(".cal-events").replaceChildren(...items);
        const none = day.querySelector(".cal-none");
        if (none) none.hidden = items.length > 0;
      });
    }

    /** Whether the coach is using a form on the calendar (then a redraw would get in the way). */
    function busy() {
      return Boolean(cal.querySelector("details[open]")) || cal.contains(document.activeElement);
    }

    async function poll() {
      if (document.hidden || busy()) return;
      try {
        const response = await CoachOS.request(url);
        if (!response.ok) throw new Error(await CoachOS.reason(response));
        const body = await response.json();
        const text = JSON.stringify(body.events);
        if (text !== shown && !busy()) {
          render(body.events);
          shown = text;
        }
        if (status) status.hidden = true;
      } catch (error) {
        if (!status) return;
        status.textContent = `Could not refresh the calendar (${error.message || "network error"}); showing what was loaded before.`;
        status.hidden = false;
      }
    }

    setInterval(poll, POLL_MS);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) poll();
    });
  }

  document.addEventListener("DOMContentLoaded", setup);
})();
