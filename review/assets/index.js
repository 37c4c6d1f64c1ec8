/* The index: filter and sort the charts, show review progress, export every decision. */
"use strict";
(function () {
  var table = document.getElementById("charts");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var filter = document.getElementById("filter");
  var errorsOnly = document.getElementById("errors-only");
  var sorted = { column: -1, ascending: true };

  function applyFilter() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row) {
      var text = row.dataset.search;
      var visible = words.every(function (w) { return text.indexOf(w) !== -1; }) &&
        (!errorsOnly.checked || row.dataset.error === "1");
      row.hidden = !visible;
      shown += visible ? 1 : 0;
    });
    document.getElementById("shown-count").textContent = shown + " of " + rows.length + " charts";
  }

  function value(row, column, kind) {
    var raw = row.cells[column].dataset.value;
    if (kind === "number") {
      return raw === "" ? -Infinity : Number(raw);
    }
    return raw;
  }

  function sortBy(column) {
    var header = table.tHead.rows[0].cells[column];
    var kind = header.dataset.sort;
    sorted.ascending = sorted.column === column ? !sorted.ascending : true;
    sorted.column = column;
    rows.sort(function (a, b) {
      var x = value(a, column, kind);
      var y = value(b, column, kind);
      var order = kind === "number" ? x - y : String(x).localeCompare(String(y));
      return sorted.ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell, i) {
      cell.setAttribute("aria-sort", i === column ?
        (sorted.ascending ? "ascending" : "descending") : "none");
    });
  }

  function showProgress() {
    var all = Review.loadAll();
    rows.forEach(function (row) {
      var decided = all[row.dataset.chart] || {};
      var count = Object.keys(decided).filter(function (c) {
        return decided[c].decision;
      }).length;
      var cell = row.querySelector(".reviewed");
      cell.textContent = count + "/" + cell.dataset.total;
      cell.parentNode.dataset.value = String(count);
    });
  }

  table.tHead.addEventListener("click", function (event) {
    var cell = event.target.closest("th");
    if (cell) {
      sortBy(cell.cellIndex);
    }
  });
  filter.addEventListener("input", applyFilter);
  errorsOnly.addEventListener("change", applyFilter);
  document.getElementById("export-all").addEventListener("click", function () {
    Review.download("decisions.csv", Review.csv(Review.loadAll()));
  });
  window.addEventListener("pageshow", showProgress);
  showProgress();
  applyFilter();
})();
