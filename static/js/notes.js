// Note pages: outlines per kind, autosave of drafts, and a warning before leaving unsaved text.
(function () {
  "use strict";
  const form = document.querySelector("form[data-unsaved-warning]");
  if (!form) return;
  let dirty = false;
  let edits = 0; // counts changes, so a save answered after more typing keeps the page dirty
  let timer = null;
  form.addEventListener("input", () => { dirty = true; edits += 1; scheduleSave(); });
  form.addEventListener("submit", () => { dirty = false; });
  window.addEventListener("beforeunload", (event) => {
    if (!dirty) return;
    event.preventDefault();
    event.returnValue = ""; // the browser shows its own "leave this page?" question
  });

  // New note: choosing a kind fills its outline, unless something has been written.
  const outlines = form.dataset.outlines && document.getElementById(form.dataset.outlines);
  const kind = form.querySelector("select[name=kind]");
  const body = form.querySelector("textarea[name=body]");
  if (outlines && kind && body) {
    const byKind = JSON.parse(outlines.textContent);
    let previous = kind.value;
    kind.addEventListener("change", () => {
      const untouched = !body.value.trim() || body.value.trim() === (byKind[previous] || "").trim();
      if (untouched) body.value = byKind[kind.value] || "";
      previous = kind.value;
    });
  }

  // Draft: save a few seconds after typing stops.
  const url = form.dataset.autosave;
  const status = form.querySelector("[data-autosave-status]");
  function scheduleSave() {
    if (!url) return;
    clearTimeout(timer);
    timer = setTimeout(save, 3000);
  }
  function save() {
    const data = new FormData(form);
    const sent = edits;
    data.delete("sign");
    fetch(url, { method: "POST", body: data, credentials: "same-origin" })
      .then((response) => response.json().then((json) => ({ ok: response.ok, json })))
      .then(({ ok, json }) => {
        if (ok) {
          if (sent === edits) dirty = false;
          if (status) status.textContent = "Draft saved at " + json.saved_at + ".";
        }
        else if (status) status.textContent = "Not saved: " + json.detail;
      })
      .catch(() => { if (status) status.textContent = "Not saved: check the connection."; });
  }
})();
