// Patient chart: drag-and-drop document upload with progress, through the REST API.
(function () {
  "use strict";
  const form = document.querySelector("form[data-upload]");
  const panel = document.getElementById("documents-panel");
  if (!panel) return;

  function refresh(query) {
    const url = (form ? form.dataset.refresh : panel.dataset.refresh) + (query || "");
    // Busy while the list is being replaced: a click on a link about to be swapped is lost.
    panel.setAttribute("aria-busy", "true");
    return fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response)))
      .then((html) => { panel.innerHTML = html; bindFilter(); })
      .finally(() => panel.removeAttribute("aria-busy"));
  }

  function bindFilter() {
    const filter = panel.querySelector("form[data-filter]");
    if (!filter) return;
    panel.dataset.refresh = filter.action;
    filter.addEventListener("change", () => {
      refresh("?" + new URLSearchParams(new FormData(filter)).toString());
    });
  }
  bindFilter();
  if (!form) return;

  const zone = form.querySelector("[data-dropzone]");
  const input = form.querySelector("input[type=file]");
  const progress = form.querySelector("[data-progress]");
  const status = form.querySelector("[data-upload-status]");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;

  function say(text, isError) {
    const line = document.createElement("p");
    line.textContent = text;
    line.className = isError ? "field-error" : "upload-ok";
    if (isError) line.setAttribute("role", "alert");
    status.appendChild(line);
  }

  function send(file) {
    return new Promise((resolve) => {
      const data = new FormData();
      data.append("category", form.elements.category.value);
      data.append("description", form.elements.description.value);
      data.append("file", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
      });
      xhr.addEventListener("load", () => {
        if (xhr.status === 201) {
          say("Uploaded " + file.name + ".", false);
        } else {
          let detail = "The upload failed (" + xhr.status + ").";
          try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (e) { /* not JSON */ }
          say(file.name + ": " + detail, true);
        }
        resolve();
      });
      xhr.addEventListener("error", () => { say(file.name + ": the connection failed.", true); resolve(); });
      xhr.send(data);
    });
  }

  async function sendAll(files) {
    if (!files.length) return;
    status.replaceChildren();
    progress.hidden = false;
    for (const file of files) {
      progress.value = 0;
      await send(file);
    }
    progress.hidden = true;
    input.value = "";
    await refresh("");
  }

  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.add("is-dragging");
  }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.remove("is-dragging");
  }));
  zone.addEventListener("drop", (event) => sendAll(Array.from(event.dataTransfer.files)));
  input.addEventListener("change", () => sendAll(Array.from(input.files)));
})();
