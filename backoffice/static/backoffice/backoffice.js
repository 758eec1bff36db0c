/* The back office's page behaviour, loaded on every admin page (templates/admin/base_site.html).
   The Content-Security-Policy allows no inline handlers, so pages mark elements instead:
   - <form data-confirm="Question?">: asks before submitting;
   - <button data-print>: prints the page. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);
  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("[data-print]");
    if (target) { event.preventDefault(); window.print(); }
  });
})();
