// Tracking inputs (shipping queue, bulk ship): a barcode scanner types the number then Enter. Enter moves to
// the next row's tracking input instead of submitting; on the last row it moves to the check button.
document.addEventListener("keydown", (event) => {
  const input = event.target;
  if (event.key !== "Enter" || !input.matches || !input.matches("input.tracking")) return;
  event.preventDefault();
  const form = input.form;
  const inputs = Array.from(form.querySelectorAll("input.tracking"));
  const next = inputs[inputs.indexOf(input) + 1];
  if (next) { next.focus(); next.select(); }
  else { const button = form.querySelector("[data-check]"); if (button) button.focus(); }
});
// The queue is paged: moving to another page drops what was typed on this one, so ask first.
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a.pager-link");
  const form = document.getElementById("ship-queue");
  if (!link || !form) return;
  const typed = Array.from(form.querySelectorAll("input.tracking")).filter((i) => i.value.trim()).length;
  if (typed && !window.confirm(`${typed} typed tracking number(s) on this page are not checked yet. Leave the page?`)) {
    event.preventDefault();
  }
});
