// A search box above the category list of the listing forms (Reverb has hundreds of categories):
// typing hides the categories that do not contain the words; chosen ones always stay visible.
(function () {
  "use strict";
  function attach(select) {
    var box = document.createElement("input");
    box.type = "search";
    box.placeholder = "Type to find a category";
    box.className = "category-filter";
    box.setAttribute("aria-label", "Find a category");
    box.id = select.id + "_filter";
    select.parentNode.insertBefore(box, select);
    box.addEventListener("input", function () {
      var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
      Array.prototype.forEach.call(select.options, function (option) {
        var text = option.text.toLowerCase();
        var match = words.every(function (w) { return text.indexOf(w) !== -1; });
        option.hidden = !(match || option.selected || option.value === "");
      });
    });
  }
  function start() {
    ["id_categories", "id_category"].forEach(function (id) {
      var select = document.getElementById(id);
      if (select && select.tagName === "SELECT") { attach(select); }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
