// Copy buttons: <button data-copy-target="element-id">. A file of its own so the panel needs no
// inline script (and can run under a strict Content-Security-Policy).
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copy(text, element) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    selectText(element);
    var ok = document.execCommand && document.execCommand("copy");
    return ok ? Promise.resolve() : Promise.reject(new Error("copy unavailable"));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) return;
    var label = button.textContent;
    copy(target.textContent.trim(), target).then(
      function () { button.textContent = "Copied"; },
      function () { selectText(target); button.textContent = "Press Ctrl+C"; }
    ).then(function () {
      setTimeout(function () { button.textContent = label; }, 2000);
    });
  });
})();
