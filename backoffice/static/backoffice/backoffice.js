/* The back office's page behaviour, loaded on every admin page (templates/admin/base_site.html).
   The Content-Security-Policy allows no inline handlers, so pages mark elements instead (confirmations
   are pages of backoffice/confirm.py, not dialogs):
   - <button data-print>: prints the page;
   - <select data-fills="CSS selector">: choosing an option copies its data-body into that field
     (saved replies into the reply box, still editable before sending). */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var select = event.target;
    var selector = select.getAttribute && select.getAttribute("data-fills");
    var option = selector && select.options[select.selectedIndex];
    var field = selector && document.querySelector(selector);
    if (field && option && option.hasAttribute("data-body")) { field.value = option.getAttribute("data-body"); }
  });
  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("[data-print]");
    if (target) { event.preventDefault(); window.print(); }
  });
})();
