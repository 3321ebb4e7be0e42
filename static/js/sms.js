// Character and part counter for "Send SMS": 160 characters fit one SMS; longer texts go
// in 153-character parts, at most 5 (integrations/smsbroadcast/client.py says the same).
(function () {
  if (window.nexusSmsCounter) return;
  window.nexusSmsCounter = true;
  function update(textarea) {
    var output = document.getElementById("sms-count");
    if (!output) return;
    var length = textarea.value.trim().length;
    var parts = length <= 160 ? 1 : Math.ceil(length / 153);
    var max = parseInt(output.dataset.max || "765", 10);
    var text = length + " characters · " + parts + " SMS";
    if (length > max) text += " — too long (at most " + max + ")";
    output.textContent = text;
    output.classList.toggle("field-error", length > max);
  }
  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target instanceof HTMLTextAreaElement && target.hasAttribute("data-sms-counter")) update(target);
  });
})();
