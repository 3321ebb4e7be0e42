// Every page: the top bar's menu button on small screens, and Print buttons.
(function () {
  "use strict";
  for (const button of document.querySelectorAll("[data-print]")) {
    button.addEventListener("click", () => window.print());
  }

  const button = document.querySelector(".menu-button");
  const topbar = document.querySelector(".topbar");
  if (!button || !topbar) return;
  // Without this script the menu simply stays open (wrapped) on small screens.
  topbar.classList.add("is-collapsible");
  button.hidden = false;
  function setOpen(open) {
    button.setAttribute("aria-expanded", String(open));
    topbar.classList.toggle("is-open", open);
  }
  button.addEventListener("click", () => setOpen(button.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && topbar.classList.contains("is-open")) {
      event.preventDefault(); // the calendar panel leaves this Escape alone
      setOpen(false);
      button.focus();
    }
  });
})();
