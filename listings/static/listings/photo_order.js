// The listing forms' photo list (templates/listings/_photo_list.html): drag a photo to move it. Files
// chosen to upload join the list at once, so they can be dragged too. The order goes into the hidden
// photo_order field as tokens (p<row> for a listed photo, f<file> for a chosen file); the position numbers
// follow, and typing a number moves the photo there. Without this script the numbers set the order.
(function () {
  "use strict";
  function start() {
    var list = document.getElementById("photo-list");
    var order = document.getElementById("photo-order");
    if (!list || !order) { return; }
    var input = document.getElementById("id_photo_files");
    var dragged = null;

    function rows() { return Array.prototype.slice.call(list.querySelectorAll("li.photo-row")); }
    function renumber() {
      rows().forEach(function (li, i) {
        var box = li.querySelector(".photo-position");
        if (box) { box.value = i + 1; }
      });
      order.value = rows().map(function (li) { return li.dataset.token; }).join(",");
    }
    function draggable(li) {
      li.draggable = true;
      Array.prototype.forEach.call(li.querySelectorAll("img"), function (img) { img.draggable = false; });
      li.addEventListener("dragstart", function (e) {
        dragged = li;
        li.classList.add("photo-dragging");
        e.dataTransfer.effectAllowed = "move";
        e.dataTransfer.setData("text/plain", li.dataset.token);
      });
      li.addEventListener("dragend", function () {
        li.classList.remove("photo-dragging");
        dragged = null;
        renumber();
      });
    }
    list.addEventListener("dragover", function (e) {
      if (!dragged) { return; }
      e.preventDefault();
      var target = e.target.closest ? e.target.closest("li.photo-row") : null;
      if (!target || target === dragged) { return; }
      var box = target.getBoundingClientRect();
      list.insertBefore(dragged, e.clientY < box.top + box.height / 2 ? target : target.nextSibling);
    });
    list.addEventListener("drop", function (e) { e.preventDefault(); renumber(); });
    list.addEventListener("change", function (e) {
      if (!e.target.classList.contains("photo-position")) { return; }
      var wanted = parseInt(e.target.value, 10);
      var li = e.target.closest("li.photo-row");
      var others = rows().filter(function (r) { return r !== li; });
      if (isNaN(wanted)) { renumber(); return; }
      var at = Math.max(0, Math.min(others.length, wanted - 1));
      list.insertBefore(li, at < others.length ? others[at] : null);
      renumber();
    });
    function addFiles() {
      rows().forEach(function (li) { if (li.dataset.token.charAt(0) === "f") { li.remove(); } });
      var none = list.querySelector(".photo-none");
      if (none) { none.remove(); }
      Array.prototype.forEach.call(input.files, function (file, i) {
        var li = document.createElement("li");
        li.className = "photo-row photo-new";
        li.dataset.token = "f" + i;
        var img = document.createElement("img");
        img.width = 64;
        img.height = 64;
        img.alt = "";
        img.className = "cover";
        var reader = new FileReader();
        reader.onload = function () { img.src = reader.result; };
        reader.readAsDataURL(file);
        var label = document.createElement("label");
        var box = document.createElement("input");
        box.type = "number";
        box.min = "1";
        box.className = "photo-position";
        label.append("Position ", box);
        var name = document.createElement("span");
        name.className = "photo-url";
        name.textContent = file.name + " (new)";
        li.append(img, label, name);
        list.appendChild(li);
        draggable(li);
      });
      renumber();
    }
    rows().forEach(draggable);
    if (input) { input.addEventListener("change", addFiles); }
    var form = list.closest("form");
    if (form) { form.addEventListener("submit", renumber); }
    renumber();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
