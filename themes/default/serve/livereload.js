/* kbgen serve: live reload and the error overlay. Added to pages by `kbgen serve` only, never published.
 *
 * Listens to the server's events (/__kbgen/events): "reload" after a rebuild wrote files (this page reloads
 * when it is among them, keeping its scroll position), "status" after a rebuild failed. After every event
 * it fetches /__kbgen/status and shows the errors (and this page's warnings) in an overlay. All text is set
 * with textContent: messages quote the editor's content and must never become markup.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.EventSource || window.__kbgenLiveReload) return;
  window.__kbgenLiveReload = true;
  var endpoint = script.getAttribute("data-kbgen-endpoint") || "/__kbgen/";
  var pageBuild = parseInt(script.getAttribute("data-kbgen-build") || "0", 10);
  var server = script.getAttribute("data-kbgen-server") || "";
  var SCROLL_KEY = "kbgen:scroll:" + location.pathname;
  var host = null;
  var dismissed = "";

  /* -- scroll position across reloads ------------------------------------------------------------ */
  function restoreScroll() {
    var saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(SCROLL_KEY) || "null");
    } catch (e) {
      saved = null;
    }
    if (!saved || Date.now() - saved.t > 60000) return;
    if ("scrollRestoration" in history) history.scrollRestoration = "manual";
    var apply = function () {
      window.scrollTo(saved.x, saved.y);
    };
    apply();
    window.addEventListener("load", function () {
      apply();
      try {
        sessionStorage.removeItem(SCROLL_KEY);
      } catch (e) {}
    });
    if (document.readyState === "complete") {
      try {
        sessionStorage.removeItem(SCROLL_KEY);
      } catch (e) {}
    }
  }

  function reload() {
    try {
      sessionStorage.setItem(SCROLL_KEY, JSON.stringify({ x: window.scrollX, y: window.scrollY, t: Date.now() }));
    } catch (e) {}
    location.reload();
  }

  /* -- the overlay -------------------------------------------------------------------------------- */
  function el(tag, style, text) {
    var node = document.createElement(tag);
    if (style) node.style.cssText = style; // CSSOM, which a Content-Security-Policy allows (a style attribute it may not)
    if (text != null) node.textContent = text;
    return node;
  }

  function hideOverlay() {
    if (host && host.parentNode) host.parentNode.removeChild(host);
    host = null;
  }

  function showOverlay(status) {
    var here = decodeURI(location.pathname);
    var errors = status.errors || [];
    var warnings = (status.warnings || []).filter(function (w) {
      return w.url && (w.url === location.pathname || w.url === here);
    });
    var key = JSON.stringify([errors, warnings]);
    if (!errors.length && !warnings.length) {
      hideOverlay();
      return;
    }
    if (key === dismissed) return;
    hideOverlay();
    host = el("div", "position:fixed;z-index:2147483647;left:0;right:0;bottom:0;");
    host.id = "kbgen-overlay";
    host.setAttribute("data-kbgen-errors", String(errors.length));
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var isError = errors.length > 0;
    var panel = el(
      "div",
      "font:14px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:#1a1a1a;" +
        "background:" + (isError ? "#fff5f5" : "#fffbeb") + ";border-top:4px solid " +
        (isError ? "#c92a2a" : "#b45309") + ";box-shadow:0 -4px 24px rgba(0,0,0,.25);" +
        "max-height:50vh;overflow:auto;padding:12px 16px;"
    );
    panel.setAttribute("role", "alert");
    panel.className = "panel";
    var head = el("div", "display:flex;gap:12px;align-items:baseline;justify-content:space-between;");
    var title = isError
      ? errors.length + (errors.length === 1 ? " error" : " errors") + " \u2014 the preview shows the last good version"
      : warnings.length + (warnings.length === 1 ? " warning" : " warnings") + " on this page";
    head.appendChild(el("strong", "font:600 15px/1.4 system-ui,sans-serif;color:" + (isError ? "#c92a2a" : "#92400e"), title));
    var close = el("button", "font:13px system-ui,sans-serif;cursor:pointer;background:none;border:1px solid #888;" +
      "border-radius:4px;padding:2px 8px;color:inherit", "Dismiss");
    close.type = "button";
    close.addEventListener("click", function () {
      dismissed = key;
      hideOverlay();
    });
    head.appendChild(close);
    panel.appendChild(head);
    var list = el("ul", "margin:8px 0 0;padding:0;list-style:none;");
    errors.concat(warnings).forEach(function (p) {
      var item = el("li", "margin:4px 0;white-space:pre-wrap;word-break:break-word;");
      item.className = p.level === "error" ? "error" : "warning";
      var where = p.path + (p.line ? ":" + p.line : "");
      item.appendChild(el("span", "font-weight:600;color:" + (p.level === "error" ? "#c92a2a" : "#92400e"), where));
      item.appendChild(document.createTextNode(": " + p.level + ": " + p.message));
      list.appendChild(item);
    });
    panel.appendChild(list);
    panel.appendChild(el("p", "margin:8px 0 0;font:12px system-ui,sans-serif;color:#555",
      "Save the file to try again; this page updates by itself."));
    root.appendChild(panel);
    (document.body || document.documentElement).appendChild(host);
  }

  function refreshStatus() {
    return fetch(endpoint + "status", { cache: "no-store" })
      .then(function (r) {
        return r.json();
      })
      .then(function (status) {
        showOverlay(status);
        return status;
      })
      .catch(function () {});
  }

  /* -- events ------------------------------------------------------------------------------------- */
  function showsPage(paths) {
    if (!paths) return true;
    if (document.body && document.body.classList.contains("kb-kind-404")) return true;
    if (!document.body || !document.body.className) return true; // "building" / error placeholder
    var here = location.pathname;
    var decoded = decodeURI(here);
    return paths.some(function (p) {
      return p === here || p === decoded;
    });
  }

  function connect() {
    var source = new EventSource(endpoint + "events");
    source.addEventListener("hello", function (e) {
      var data = JSON.parse(e.data || "{}");
      if ((server && data.server && data.server !== server) || data.build > pageBuild) {
        reload(); // the site changed while this page was loading or the server restarted
        return;
      }
      refreshStatus();
    });
    source.addEventListener("reload", function (e) {
      var data = JSON.parse(e.data || "{}");
      if (typeof data.build === "number" && data.build <= pageBuild) {
        refreshStatus(); // the event of the build this page came from, arriving late: nothing to reload
        return;
      }
      if (showsPage(data.paths)) {
        reload();
        return;
      }
      pageBuild = data.build;
      refreshStatus();
    });
    source.addEventListener("status", function () {
      refreshStatus();
    });
  }

  restoreScroll();
  connect();
})();
