/* kbgen help widget launcher: <script src="https://help.example.com/widget.js" async></script>
 * Options on the tag: data-kb-suggest (a search for the suggestions), data-kb-lang, data-kb-position
 * (right | left), data-kb-color (#rrggbb). API: kbWidget.open({query} | {article}), kbWidget.close().
 * One element in the host page (<kb-widget>, fixed, styles in its shadow root: nothing global, no layout
 * shift); the panel is an iframe of the help centre's /_widget/, created on the first open. */
(() => {
  const C = {/*KB_CONFIG*/}, d = document, W = window, me = d.currentScript;
  if (W.kbWidget || !me || !me.src) return;
  const o = me.dataset, hex = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
  const lang = (o.kbLang || '').toLowerCase();
  const other = (C.langs || []).includes(lang);
  const src = new URL('_widget/' + (other ? lang + '/' : ''), me.src);
  const label = (other && C.labels && C.labels[lang]) || C.label || 'Help';
  const origin = src.origin, color = hex.test(o.kbColor || '') ? o.kbColor : C.color;
  const side = /^(left|right)$/.test(o.kbPosition) ? o.kbPosition : C.position;
  const suggest = (o.kbSuggest || '').slice(0, 100);
  let host, root, btn, box, frame, ready = false, isOpen = false, pending = null;

  const css = `:host{all:initial;position:fixed;z-index:2147483000;bottom:0;${side}:0}
button{all:unset;box-sizing:border-box;position:fixed;bottom:20px;${side}:20px;display:flex;align-items:center;gap:8px;
height:52px;padding:0 20px 0 16px;border-radius:26px;background:${color};color:#fff;cursor:pointer;
font:600 16px/1 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;box-shadow:0 6px 20px -4px rgb(0 0 0/.35)}
button:focus-visible{outline:3px solid ${color};outline-offset:3px}
button svg{width:22px;height:22px}
.p{position:fixed;bottom:84px;${side}:20px;width:400px;height:min(680px,calc(100vh - 104px));max-width:calc(100vw - 40px);
border-radius:14px;overflow:hidden;background:#fff;box-shadow:0 16px 48px -8px rgb(0 0 0/.4)}
.p[hidden]{display:none}
iframe{border:0;width:100%;height:100%;display:block}
@media (max-width:600px){.p{inset:0;width:100%;height:100%;max-width:none;border-radius:0}
:host(.open) button{display:none}}`;

  const init = () => {
    host = d.createElement('kb-widget');
    root = host.attachShadow({ mode: 'open' });
    try {
      const s = new CSSStyleSheet(); // a constructed sheet: allowed by a strict style-src CSP
      s.replaceSync(css);
      root.adoptedStyleSheets = [s];
    } catch (e) {
      const s = d.createElement('style');
      s.textContent = css;
      root.append(s);
    }
    btn = d.createElement('button');
    btn.type = 'button';
    btn.setAttribute('aria-haspopup', 'dialog');
    btn.setAttribute('aria-expanded', 'false');
    // built node by node, not innerHTML: fine under Trusted Types too
    const ns = 'http://www.w3.org/2000/svg', svg = d.createElementNS(ns, 'svg'), path = d.createElementNS(ns, 'path');
    const attrs = (el, a) => Object.keys(a).forEach(k => el.setAttribute(k, a[k]));
    attrs(svg, { viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', 'stroke-width': '2', 'stroke-linecap': 'round', 'aria-hidden': 'true' });
    attrs(path, { d: 'M21 12a9 9 0 1 1-18 0 9 9 0 0 1 18 0zM9.5 9.5a2.5 2.5 0 1 1 3.4 2.3c-.6.3-.9.8-.9 1.4v.3M12 16.5h.01' });
    svg.append(path);
    const text = d.createElement('span');
    text.textContent = label;
    btn.append(svg, text);
    btn.addEventListener('click', () => (isOpen ? close() : open()));
    box = d.createElement('div');
    box.className = 'p';
    box.hidden = true;
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-label', label);
    root.append(btn, box);
    d.body.append(host);
  };

  const message = opts => ({ kb: 'open', path: location.pathname, query: opts.query, article: opts.article, suggest });
  const open = (opts = {}) => {
    if (!host) return;
    opts = { query: typeof opts.query == 'string' ? opts.query.slice(0, 200) : undefined,
      article: typeof opts.article == 'string' ? opts.article.slice(0, 500) : undefined };
    if (!frame) {
      const p = new URLSearchParams({ o: location.origin, p: location.pathname, c: color });
      if (suggest) p.set('s', suggest);
      if (opts.query) p.set('q', opts.query);
      if (opts.article) p.set('a', opts.article);
      frame = d.createElement('iframe');
      frame.title = label;
      frame.setAttribute('sandbox', 'allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox');
      frame.setAttribute('referrerpolicy', 'no-referrer');
      frame.src = src.href + '?v=' + C.v + '#' + p;
      box.append(frame);
    } else if (ready) frame.contentWindow.postMessage(message(opts), origin);
    else pending = opts;
    isOpen = true;
    host.classList.add('open');
    box.hidden = false;
    btn.setAttribute('aria-expanded', 'true');
    frame.focus();
  };
  const close = () => {
    if (!isOpen) return;
    isOpen = false;
    host.classList.remove('open');
    box.hidden = true;
    btn.setAttribute('aria-expanded', 'false');
    btn.focus();
  };

  W.addEventListener('message', e => {
    if (!frame || e.origin !== origin || e.source !== frame.contentWindow) return;
    const m = e.data, k = m && typeof m == 'object' && m.kb;
    if (k === 'close') close();
    else if (k === 'ready') {
      ready = true;
      if (pending) frame.contentWindow.postMessage(message(pending), origin), pending = null;
    }
  });
  d.addEventListener('keydown', e => { if (e.key == 'Escape' && isOpen) close(); });

  W.kbWidget = { open, close };
  if (d.body) init(); else d.addEventListener('DOMContentLoaded', init);
})();
