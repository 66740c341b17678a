// Forms with data-confirm="question" ask before they submit. A file of its own: the panel runs
// under a Content-Security-Policy that allows no inline script.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
