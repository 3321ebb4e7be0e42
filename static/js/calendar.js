// Staff calendar: keyboard movement in the grid, focus in and out of the side panel,
// Escape to close it, and drag-to-reschedule (the panel's Reschedule form is the keyboard way).
(function () {
  "use strict";
  const grid = document.querySelector(".calendar");
  const panel = document.getElementById("panel");
  if (!grid || !panel) return;
  const sheet = panel.closest(".calendar-panel");
  const closeButton = sheet.querySelector("[data-panel-close]");
  const empty = panel.innerHTML;
  const RETURN_KEY = "nexus-calendar-return";
  let opener = null;

  // --- The grid: one Tab stop per column, arrow keys inside ------------------------------
  const columns = Array.from(grid.querySelectorAll(".cal-col"));
  const top = (el) => parseFloat(el.style.top) || 0;
  const items = (column) =>
    Array.from(column.querySelectorAll(".cal-free, .cal-appt")).sort((a, b) => top(a) - top(b));

  function rove(column, chosen) {
    for (const item of items(column)) item.tabIndex = item === chosen ? 0 : -1;
  }
  columns.forEach((column) => {
    const list = items(column);
    if (list.length) rove(column, list[0]);
  });

  function move(item, target) {
    if (!target) return;
    rove(target.closest(".cal-col"), target);
    target.focus();
    if (item !== target) target.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  function nearest(column, y) {
    let best = null;
    for (const item of items(column)) {
      if (!best || Math.abs(top(item) - y) < Math.abs(top(best) - y)) best = item;
    }
    return best;
  }

  grid.addEventListener("focusin", (event) => {
    const item = event.target.closest(".cal-free, .cal-appt");
    if (item) rove(item.closest(".cal-col"), item);
  });

  grid.addEventListener("keydown", (event) => {
    const item = event.target.closest(".cal-free, .cal-appt");
    if (!item || event.altKey || event.ctrlKey || event.metaKey) return;
    const column = item.closest(".cal-col");
    const list = items(column);
    const index = list.indexOf(item);
    const col = columns.indexOf(column);
    let target;
    if (event.key === "ArrowDown") target = list[index + 1];
    else if (event.key === "ArrowUp") target = list[index - 1];
    else if (event.key === "Home") target = list[0];
    else if (event.key === "End") target = list[list.length - 1];
    else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      const step = event.key === "ArrowRight" ? 1 : -1;
      for (let c = col + step; c >= 0 && c < columns.length && !target; c += step) {
        target = nearest(columns[c], top(item));
      }
    } else if (event.key === " " ) {
      event.preventDefault();
      item.click();
      return;
    } else return;
    event.preventDefault();
    move(item, target);
  });

  // --- The panel: focus in when it opens, back to the grid when it closes ------------------
  const visible = (el) => el.getClientRects().length > 0;
  const FOCUSABLE = "input:not([type=hidden]):not([disabled]), select, textarea, summary, button, a[href]";

  function focusInPanel() {
    const invalid = panel.querySelector(
      ".field-invalid input:not([type=hidden]), .field-invalid select, .field-invalid textarea"
    );
    if (invalid && visible(invalid)) return invalid.focus();
    const refusal = panel.querySelector(".form-error");
    const scope = refusal ? refusal.closest("form") || panel : panel;
    const first = Array.from(scope.querySelectorAll(FOCUSABLE)).find(visible);
    if (first) first.focus();
  }

  function open() {
    sheet.classList.add("is-open");
    closeButton.hidden = false;
  }

  function close() {
    panel.innerHTML = empty;
    sheet.classList.remove("is-open");
    closeButton.hidden = true;
    sessionStorage.removeItem(RETURN_KEY);
    if (opener && document.contains(opener)) move(opener, opener);
    opener = null;
  }

  function describe(el) {
    if (!el) return null;
    if (el.dataset.appointment) return { appointment: el.dataset.appointment };
    const column = el.closest(".cal-col");
    return { clinician: column.dataset.clinician, start: el.dataset.start };
  }

  document.body.addEventListener("htmx:beforeRequest", (event) => {
    const elt = event.detail.elt;
    if (grid.contains(elt)) opener = elt.closest(".cal-free, .cal-appt");
    // A change that succeeds reloads the page; remember where focus belongs afterwards.
    if (panel.contains(elt) || grid.contains(elt)) {
      const about = describe(opener);
      if (about) sessionStorage.setItem(RETURN_KEY, JSON.stringify(about));
    }
  });

  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target !== panel) return;
    open();
    focusInPanel();
  });

  closeButton.addEventListener("click", close);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.defaultPrevented && sheet.classList.contains("is-open")) {
      event.preventDefault();
      close();
    }
  });

  // After a booking, move or status change the page reloads: focus the appointment.
  const saved = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  if (saved) {
    const about = JSON.parse(saved);
    let target = null;
    if (about.appointment) {
      target = grid.querySelector(`.cal-appt[data-appointment="${CSS.escape(about.appointment)}"]`);
    } else {
      const column = grid.querySelector(`.cal-col[data-clinician="${CSS.escape(about.clinician)}"]`);
      const when = Date.parse(about.start);
      if (column) {
        target = items(column).find((el) => Date.parse(el.dataset.start) === when) || null;
      }
    }
    if (target) move(target, target);
  }

  // --- Drag an appointment to another time or clinician -------------------------------------
  const firstHour = Number(grid.dataset.firstHour);
  const rowPx = Number(grid.dataset.rowPx);
  const rowMinutes = Number(grid.dataset.rowMinutes);
  const marker = document.createElement("div");
  marker.className = "cal-drop";
  marker.setAttribute("aria-hidden", "true");
  let dragged = null;
  let grabY = 0;

  function dropTop(column, event) {
    const y = event.clientY - column.getBoundingClientRect().top - grabY;
    return Math.max(0, Math.round(y / rowPx)) * rowPx;
  }

  grid.addEventListener("dragstart", (event) => {
    dragged = event.target.closest(".cal-appt[draggable=true]");
    if (!dragged) return;
    grabY = event.clientY - dragged.getBoundingClientRect().top;
    marker.style.height = dragged.style.height;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.appointment);
    dragged.classList.add("is-dragging");
  });
  grid.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("is-dragging");
    marker.remove();
    dragged = null;
  });
  grid.addEventListener("dragover", (event) => {
    const column = event.target.closest(".cal-col");
    if (!dragged || !column) return;
    event.preventDefault();
    marker.style.top = dropTop(column, event) + "px";
    if (marker.parentNode !== column) column.appendChild(marker);
  });
  grid.addEventListener("drop", (event) => {
    const column = event.target.closest(".cal-col");
    if (!dragged || !column) return;
    event.preventDefault();
    const minutes = firstHour * 60 + (dropTop(column, event) / rowPx) * rowMinutes;
    const time = String(Math.floor(minutes / 60)).padStart(2, "0") + ":" +
      String(minutes % 60).padStart(2, "0");
    opener = dragged;
    // Same form, same service and the same conflict rule as the panel's Reschedule form.
    htmx.ajax("POST", dragged.dataset.move, {
      source: dragged,
      target: panel,
      values: { date: column.dataset.day, time: time, clinician: column.dataset.clinician },
    });
  });
  grid.dataset.ready = "true";  // tests wait for this rather than for time
})();
