/* Shared by every page: the coder's decisions, kept in the browser (localStorage), and CSV. */
"use strict";
var Review = (function () {
  var data = JSON.parse(document.getElementById("page-data").textContent);
  var storageKey = "chartcoder-review:" + data.site_key;

  function loadAll() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(storageKey) || "{}");
      return saved && typeof saved === "object" ? saved : {};
    } catch (err) {
      return {};
    }
  }

  function saveAll(all) {
    window.localStorage.setItem(storageKey, JSON.stringify(all));
  }

  function chartDecisions(chartId) {
    return loadAll()[chartId] || {};
  }

  function setDecision(chartId, code, change) {
    var all = loadAll();
    var chart = all[chartId] || {};
    var current = chart[code.code] || {};
    var next = Object.assign({}, current, code, change, { at: new Date().toISOString() });
    chart[code.code] = next;
    all[chartId] = chart;
    saveAll(all);
    return next;
  }

  function csvCell(value) {
    var s = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(s)) {
      s = "'" + s; /* a spreadsheet must not read a cell as a formula */
    }
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  var COLUMNS = ["chart_id", "code", "decision", "comment", "description", "score",
                 "assertion", "decided_at", "run_id", "results"];

  function csv(all) {
    var lines = [COLUMNS.join(",")];
    Object.keys(all).sort().forEach(function (chartId) {
      var chart = all[chartId];
      Object.keys(chart).sort().forEach(function (codeName) {
        var d = chart[codeName];
        if (!d.decision && !d.comment) {
          return;
        }
        lines.push([chartId, codeName, d.decision || "", d.comment || "", d.description,
                    d.score, d.assertion, d.at, data.run_id || "", data.where]
                   .map(csvCell).join(","));
      });
    });
    return lines.join("\r\n") + "\r\n";
  }

  function download(fileName, content) {
    var blob = new Blob([content], { type: "text/csv;charset=utf-8" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = fileName;
    document.body.appendChild(link);
    link.click();
    setTimeout(function () {
      URL.revokeObjectURL(link.href);
      link.remove();
    }, 0);
  }

  function fileSafe(name) {
    return name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60);
  }

  return {
    data: data,
    loadAll: loadAll,
    chartDecisions: chartDecisions,
    setDecision: setDecision,
    csv: csv,
    download: download,
    fileSafe: fileSafe,
  };
})();
