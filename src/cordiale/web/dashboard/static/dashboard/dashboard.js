// Draws the overview's Vega-Lite charts (specs built server-side with Altair) with the vendored
// vega-embed, as SVG; a click on a bar opens the list of the works behind it.
(function () {
  "use strict";
  const specs = JSON.parse(document.getElementById("chart-specs").textContent);
  const options = { renderer: "svg", actions: false };
  const drawn = [];
  for (const [name, spec] of Object.entries(specs)) {
    const el = document.getElementById("chart-" + name);
    if (!el) continue;
    drawn.push(
      vegaEmbed(el, spec, options).then(function (result) {
        el.dataset.drawn = "true";
        if (name === "strengths") {
          result.view.addEventListener("click", function (_event, item) {
            if (!item || !item.datum || item.datum.class_id === undefined) return;
            const query = el.dataset.query ? "&" + el.dataset.query : "";
            window.location.assign(el.dataset.worksUrl + "?level=" + encodeURIComponent(el.dataset.level) +
              "&class=" + encodeURIComponent(item.datum.class_id) +
              "&name=" + encodeURIComponent(item.datum.class_name) + query);
          });
        }
        if (name === "oa") {
          result.view.addEventListener("click", function (_event, item) {
            if (!item || !item.datum || item.datum.oa_status === undefined) return;
            const query = el.dataset.query ? "&" + el.dataset.query : "";
            window.location.assign(el.dataset.worksUrl + "?year=" + item.datum.year +
              "&oa=" + encodeURIComponent(item.datum.oa_status) + query);
          });
        }
        if (name === "sdg") {
          result.view.addEventListener("click", function (_event, item) {
            if (!item || !item.datum || item.datum.sdg === undefined) return;
            const query = el.dataset.query ? "&" + el.dataset.query : "";
            window.location.assign(el.dataset.worksUrl + "?sdg=" + item.datum.sdg + query);
          });
        }
        if (name === "map") {
          result.view.addEventListener("click", function (_event, item) {
            if (!item || !item.datum || item.datum.key === undefined) return;
            const query = el.dataset.query ? "&" + el.dataset.query : "";
            window.location.assign(el.dataset.worksUrl + "?country=" + encodeURIComponent(item.datum.key) + query);
          });
        }
        if (name === "joint") {
          result.view.addEventListener("click", function (_event, item) {
            if (!item || !item.datum || item.datum.year === undefined || item.mark.marktype !== "rect") return;
            const query = el.dataset.query ? "&" + el.dataset.query : "";
            window.location.assign(el.dataset.worksUrl + "?year=" + item.datum.year + query);
          });
        }
        const drill = {  // people and programmes: the datum's fields → the list's query
          pairs: function (d) { return d.kind === undefined ? null : el.dataset.worksUrl + "?year=" + d.year + "&pairs=" + d.kind; },
          units: function (d) { return d.unit_id === undefined ? null : el.dataset.worksUrl + "?unit=" + encodeURIComponent(d.unit_id) + "&name=" + encodeURIComponent(d.unit); },
          calls: function (d) { return d.call_id === undefined ? null : el.dataset.rowsUrl + "?call=" + d.call_id; },
          money: function (d) { return d.partner_id === undefined ? null : el.dataset.rowsUrl + "?partner=" + d.partner_id + "&kind=" + d.kind; },
          exchanges: function (d) { return d.year === undefined ? null : el.dataset.rowsUrl + "?exchanges=" + d.year; },
        }[name];
        if (drill) {
          result.view.addEventListener("click", function (_event, item) {
            const url = item && item.datum ? drill(item.datum) : null;
            if (!url) return;
            window.location.assign(url + (el.dataset.query ? "&" + el.dataset.query : ""));
          });
        }
        window.cordialeViews = window.cordialeViews || {};
        window.cordialeViews[name] = result.view;
      })
    );
  }
  Promise.all(drawn).then(function () { document.body.dataset.chartsDrawn = "true"; });
})();
