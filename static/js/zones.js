// Public booking pages: the note naming the clinic's time zone ("Times are Perth time
// (AWST).") stays only when the visitor's device is on a different clock, judged at the
// moment the page is about (data-at), so Melbourne and Sydney count as the same.
(function () {
  "use strict";
  let here;
  try {
    here = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) {
    return; // no Intl: leave every note showing
  }
  function wallClock(zone, at) {
    return new Intl.DateTimeFormat("en-AU", {
      timeZone: zone, year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric",
    }).format(at);
  }
  document.querySelectorAll("[data-clinic-zone]").forEach((note) => {
    const at = note.dataset.at ? new Date(note.dataset.at) : new Date();
    let same = false;
    try {
      same = !here || wallClock(note.dataset.clinicZone, at) === wallClock(here, at);
    } catch (error) {
      same = false; // an unknown zone name: keep the note
    }
    note.hidden = same;
    const yours = note.querySelector("[data-your-zone]");
    if (!same && yours && here) {
      yours.textContent = " Your device shows " + here.split("/").pop().replace(/_/g, " ") + " time.";
    }
  });
})();
