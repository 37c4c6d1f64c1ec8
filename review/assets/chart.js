/* A chart page: show a code's evidence, accept or reject codes, export the decisions. */
"use strict";
(function () {
  var data = Review.data;
  var codes = {};
  data.codes.forEach(function (code) { codes[code.layer] = code; });
  var lit = [];

  function highlight(layer, index) {
    lit.forEach(function (el) { el.classList.remove("on"); });
    lit = Array.prototype.slice.call(document.querySelectorAll('[data-k~="' + layer + '"]'));
    var colour = getComputedStyle(document.getElementById("ev-" + layer + "-0") ||
                                  document.body).getPropertyValue("--c");
    lit.forEach(function (el) {
      el.classList.add("on");
      if (colour) {
        el.style.setProperty("--on", colour);
      }
    });
    document.querySelectorAll(".code.selected").forEach(function (el) {
      el.classList.remove("selected");
    });
    var card = document.getElementById("code-" + layer);
    if (card) {
      card.classList.add("selected");
    }
    var anchor = document.getElementById("ev-" + layer + "-" + (index || 0));
    if (anchor) {
      anchor.scrollIntoView({ block: "center", behavior: "auto" });
    }
    return anchor;
  }

  function showDecision(layer) {
    var code = codes[layer];
    var saved = Review.chartDecisions(data.chart_id)[code.code] || {};
    var card = document.getElementById("code-" + layer);
    card.classList.toggle("accepted", saved.decision === "accepted");
    card.classList.toggle("rejected", saved.decision === "rejected");
    var comment = card.querySelector("textarea.comment");
    if (comment && document.activeElement !== comment) {
      comment.value = saved.comment || "";
    }
  }

  function countDecisions() {
    var saved = Review.chartDecisions(data.chart_id);
    var accepted = 0;
    var rejected = 0;
    data.codes.forEach(function (code) {
      var d = (saved[code.code] || {}).decision;
      accepted += d === "accepted" ? 1 : 0;
      rejected += d === "rejected" ? 1 : 0;
    });
    document.getElementById("decision-count").textContent =
      accepted + " accepted, " + rejected + " rejected of " + data.codes.length;
  }

  function decide(layer, change) {
    var code = codes[layer];
    Review.setDecision(data.chart_id, {
      code: code.code, description: code.description, score: code.score,
      assertion: code.assertion,
    }, change);
    showDecision(layer);
    countDecisions();
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) {
      var tag = event.target.closest(".tag");
      if (tag) {
        highlight(tag.dataset.k, 0);
      }
      return;
    }
    var layer = target.dataset.layer;
    if (target.classList.contains("show")) {
      highlight(layer, 0);
    } else if (target.classList.contains("ev-link")) {
      highlight(layer, Number(target.dataset.index));
    } else if (target.classList.contains("accept")) {
      var accepted = (Review.chartDecisions(data.chart_id)[codes[layer].code] || {}).decision;
      decide(layer, { decision: accepted === "accepted" ? "" : "accepted" });
    } else if (target.classList.contains("reject")) {
      var rejected = (Review.chartDecisions(data.chart_id)[codes[layer].code] || {}).decision;
      decide(layer, { decision: rejected === "rejected" ? "" : "rejected" });
    } else if (target.id === "export-chart") {
      var one = {};
      one[data.chart_id] = Review.chartDecisions(data.chart_id);
      Review.download("decisions-" + Review.fileSafe(data.chart_id) + ".csv", Review.csv(one));
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.classList.contains("comment")) {
      decide(event.target.dataset.layer, { comment: event.target.value });
    }
  });

  data.codes.forEach(function (code) { showDecision(code.layer); });
  countDecisions();
  window.ChartReview = { highlight: highlight };
})();
