/* The site root of a multilingual help centre: go to the first of the browser's languages the site has
   (exact tag, then the primary subtag: "fr-CA" finds "fr"); the links stay for anyone without script. */
(function () {
  var links = document.querySelectorAll("a[data-kb-lang]"), by = {}, prim = {};
  for (var i = 0; i < links.length; i++) {
    var code = links[i].getAttribute("data-kb-lang").toLowerCase();
    by[code] = links[i];
    if (!prim[code.split("-")[0]]) prim[code.split("-")[0]] = links[i];
  }
  var wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
  for (var j = 0; j < wanted.length; j++) {
    var w = String(wanted[j] || "").toLowerCase(), a = by[w] || prim[w.split("-")[0]];
    if (a) { location.replace(a.href); return; }
  }
})();
