// Progressive enhancement only: every flow works without this file.
// "Select all" for the dead letters table, and a confirmation before a
// bulk operation on every matching dead letter.
document.addEventListener("DOMContentLoaded", function () {
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('#dl-table input[name="ref"]').forEach(function (c) { c.checked = all.checked; });
    });
  }
  ["reprocess-all", "ignore-all"].forEach(function (id) {
    var b = document.getElementById(id);
    if (b) {
      b.addEventListener("click", function (e) {
        if (!window.confirm(b.textContent + "?")) { e.preventDefault(); }
      });
    }
  });
});
