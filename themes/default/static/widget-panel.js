/* kbgen help widget, the panel (/_widget/, templates/widget.html), inside the iframe widget.js opens.
 *
 * Reads from the host page only what the launcher passes (the URL fragment on load, then postMessage):
 *   o = the host's origin (must be one of [widget] hosts, else no message is sent or accepted),
 *   p = the host page's path (cleaned again here: no query string, no fragment),
 *   s = data-kb-suggest (a search whose best results are the suggestions), q = a query, a = an article,
 *   c = a colour. Messages: host → panel {kb: "open", path, query?, article?, suggest?};
 *   panel → host {kb: "close"} and {kb: "ready"}, posted to that origin only.
 * Searches with the site's engine (search-core.js) and reports through the site's analytics.js: every
 * event carries source "widget", the host path and a random id of this opening (body data-kb-*).
 * Nothing is stored: no cookie, no storage. Every string from the index or the host is text, never HTML.
 */
(() => {
  const d = document, W = window, b = d.body, ds = b.dataset;
  const $ = (s, r = d) => r.querySelector(s);
  const track = (n, p) => { try { W.kb && W.kb.track(n, p); } catch (e) { /* analytics never breaks the panel */ } };
  let D = {};
  try { D = JSON.parse($('#kb-widget-data').textContent) || {}; } catch (e) { /* no data: search still works */ }
  const items = D.items || [], hosts = D.hosts || [];
  const COLOR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
  const str = (v, max) => typeof v == 'string' && v.length <= max ? v.replace(/[\x00-\x1f\x7f]/g, ' ').trim() : '';
  // A host path as recorded: the path only, at most 300 characters, "/" when it is not a path.
  const cleanPath = v => {
    v = typeof v == 'string' ? v.slice(0, 2000).split(/[?#]/)[0].replace(/[\x00-\x20\x7f]/g, '') : '';
    return v[0] == '/' && v[1] != '/' && v.length <= 300 ? v : '/';
  };

  // -- what the launcher passed in the iframe's URL fragment --------------------------------------
  let P;
  try { P = new URLSearchParams(location.hash.slice(1)); } catch (e) { P = new URLSearchParams(); }
  const claimed = str(P.get('o'), 300).toLowerCase();
  const anc = location.ancestorOrigins;
  // The origin messages go to and come from: only a configured host, and only the frame's real parent.
  const parentOrigin = W.parent !== W && hosts.includes(claimed) &&
    !(anc && anc.length && anc[0].toLowerCase() !== claimed) ? claimed : '';
  const post = msg => { if (parentOrigin) W.parent.postMessage(msg, parentOrigin); };
  const color = str(P.get('c'), 7);
  d.documentElement.style.setProperty('--kb-brand', COLOR.test(color) ? color : COLOR.test(D.color || '') ? D.color : '#0b5cad');

  const input = $('#kbw-q'), list = $('[data-kbw-results]'), listTitle = $('[data-kbw-list-title]');
  const status = $('[data-kbw-status]'), listBox = $('[data-kbw-list]'), answer = $('[data-kbw-answer]');
  const aTitle = $('[data-kbw-answer-title]'), aBody = $('[data-kbw-answer-body]'), aFull = $('[data-kbw-full]');
  const fb = $('[data-kbw-feedback]'), thanks = $('[data-kbw-thanks]');
  const core = () => W.kbSearchCore;
  const base = ds.kbBase || '/';
  let suggestQuery = '', lastSent = '', sendTimer = 0, seq = 0, current = null;

  // -- one opening = one visit: the random id that links its events (and nothing else) -----------
  const open = o => {
    const v = new Uint8Array(8);
    crypto.getRandomValues(v);
    ds.kbVisit = Array.from(v, x => x.toString(16).padStart(2, '0')).join('');
    ds.kbHost = cleanPath(o.path);
    suggestQuery = str(o.suggest, 100);
    lastSent = '';
    track('widget_open');
    const q = str(o.query, 200), art = str(o.article, 500);
    input.value = q;
    if (art) showArticle({ href: art, title: '', rank: 0 });
    else { showList(); q ? search(q) : suggestions(); }
    if (!art) input.focus();
  };

  // -- suggestions: data-kb-suggest, else [[widget.suggest]] for the host path, else the most viewed --
  const rule = path => (D.rules || []).find(r => r.m.some(m => { try { return new RegExp(m).test(path); } catch (e) { return false; } }));
  const suggestions = () => {
    const token = ++seq;
    if (suggestQuery && core()) {
      core().load().then(() => core().query(suggestQuery, { limit: 5, prefix: false })).then(ans => {
        if (token !== seq) return;
        if (ans.results.length) render(listTitle.dataset.suggested, ans.results.map(r => ({ title: r.title, href: r.href, url: r.url, type: r.type, snippet: r.snippet, anchor: r.anchor })), '');
        else fromRules();
      }).catch(() => { if (token === seq) fromRules(); });
      return;
    }
    fromRules();
  };
  const fromRules = () => {
    const r = rule(ds.kbHost || '/');
    const idx = r ? r.a : D.popular || [];
    render(r ? listTitle.dataset.suggested : listTitle.dataset.popular, idx.map(i => items[i]).filter(Boolean).map(it => ({
      title: it.t, url: it.u, href: base + it.u.replace(/^\//, ''), type: it.y, snippet: it.d
    })), '');
  };

  const render = (title, rows, query) => {
    listTitle.textContent = title;
    list.textContent = '';
    rows.forEach((r, i) => {
      const li = d.createElement('li'), a = d.createElement('a'), t = d.createElement('span');
      a.href = r.href;
      a.className = 'kbw-result';
      t.className = 'kbw-result-title';
      t.textContent = r.title;
      a.append(t);
      if (r.snippet) {
        const s = d.createElement('span');
        s.className = 'kbw-result-snippet';
        s.textContent = r.snippet;
        a.append(s);
      }
      a.addEventListener('click', e => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button) return;
        e.preventDefault();
        if (query) { sendSearch(query, rows.length); track('search_click', { query, url: r.url, rank: i + 1 }); }
        showArticle({ href: r.href, title: r.title, rank: i + 1, anchor: r.anchor });
      });
      li.append(a);
      list.append(li);
    });
  };

  // -- search as you type, the site's engine and ranking --------------------------------------------
  const sendSearch = (q, n) => {
    clearTimeout(sendTimer);
    if (q === lastSent) return;
    lastSent = q;
    track('search', { query: q, results: n });
    if (!n) track('search_no_results', { query: q, results: 0 });
  };
  const search = q => {
    const token = ++seq;
    q = q.trim();
    clearTimeout(sendTimer);
    if (!q) { status.textContent = ''; suggestions(); return; }
    if (!core()) { status.textContent = status.dataset.error; return; }
    core().load().then(() => core().query(q, { limit: 8 })).then(ans => {
      if (token !== seq) return;
      status.textContent = ans.results.length ? '' : status.dataset.none.replace('{q}', q) +
        (ans.didYouMean ? ' · ' + status.dataset.dym + ' ' + ans.didYouMean + '?' : '');
      render(listTitle.dataset.results, ans.results, q);
      sendTimer = setTimeout(() => sendSearch(q, ans.total), 1000);
    }).catch(() => { if (token === seq) status.textContent = status.dataset.error; });
  };
  input.addEventListener('input', () => search(input.value));
  input.addEventListener('focus', () => { if (core()) core().load().catch(() => {}); }, { once: true });
  input.addEventListener('keydown', e => {
    if (e.key == 'Enter') { e.preventDefault(); const f = $('a', list); if (f) f.focus(); }
  });

  // -- inline answers: an FAQ answer or a short article, from the help centre's own page ------------
  const SHORT = 2400; // characters of text: longer articles show their lead and the link
  const same = u => { try { const x = new URL(u, location.href); return x.origin === location.origin ? x : null; } catch (e) { return null; } };
  const DROP = 'script,style,link,meta,base,iframe,object,embed,form,input,button,textarea,select,template,noscript,[data-kb-video]';
  const adopt = (node, pageUrl) => { // a copy of the page's own HTML, made inert and with absolute links
    const c = d.importNode(node, true);
    [c, ...c.querySelectorAll('*')].forEach(el => {
      for (const at of [...el.attributes]) {
        const n = at.name.toLowerCase();
        if (n.startsWith('on') || n == 'srcset' || n == 'id') el.removeAttribute(at.name);
        else if (n == 'href' || n == 'src') {
          let u;
          try { u = new URL(at.value, pageUrl); } catch (e) { el.removeAttribute(at.name); continue; }
          if (!/^(https?|mailto|tel):$/.test(u.protocol)) el.removeAttribute(at.name);
          else el.setAttribute(at.name, u.href);
        }
      }
      if (el.tagName == 'A') { el.target = '_blank'; el.rel = 'noopener'; }
    });
    return c;
  };
  const showArticle = r => {
    const url = same(r.href);
    if (!url) { showList(); return; }
    const token = ++seq, anchor = r.anchor || decodeURIComponent(url.hash.slice(1));
    url.hash = '';
    current = { url: url.pathname.indexOf(base) ? url.pathname : '/' + url.pathname.slice(base.length), voted: false };
    listBox.hidden = true;
    answer.hidden = false;
    aTitle.textContent = r.title || status.dataset.loading;
    aBody.textContent = '';
    aFull.href = url.href + (anchor ? '#' + encodeURIComponent(anchor) : '');
    fb.classList.remove('is-done');
    thanks.textContent = '';
    aTitle.focus();
    track('widget_answer', r.rank ? { url: current.url, rank: r.rank } : { url: current.url });
    fetch(url.href).then(res => { if (!res.ok) throw Error(res.status); return res.text(); }).then(html => {
      if (token !== seq) return;
      // parsed inert (a template's content: nothing runs, loads or applies), cleaned there, then copied in
      const tpl = d.createElement('template');
      tpl.innerHTML = html;
      const page = tpl.content;
      const item = anchor && page.getElementById(anchor);
      const faq = item && item.closest('details');
      let title = (page.querySelector('h1') || {}).textContent || r.title, body;
      page.querySelectorAll(DROP).forEach(x => x.remove());
      page.querySelectorAll('[style]').forEach(x => x.removeAttribute('style'));
      if (faq) {
        title = (faq.querySelector('summary') || {}).textContent || title;
        body = faq.querySelector('.kb-faq-answer') || faq;
      } else {
        const prose = page.querySelector('.kb-faq') || page.querySelector('.kb-article .kb-prose');
        if (prose && prose.textContent.length <= SHORT) body = prose;
        else {
          body = d.createElement('p');
          body.textContent = ((page.querySelector('.kb-lead') || {}).textContent || '').trim();
        }
      }
      aTitle.textContent = title.trim();
      aBody.textContent = '';
      if (body.nodeType) aBody.append(body.ownerDocument === d ? body : adopt(body, url.href));
      aBody.querySelectorAll('details').forEach(x => { x.open = true; });
    }).catch(() => { if (token === seq) aBody.textContent = status.dataset.error; });
  };
  const showList = () => {
    ++seq;
    current = null;
    answer.hidden = true;
    listBox.hidden = false;
  };
  $('[data-kbw-back]').addEventListener('click', () => {
    showList();
    if (input.value.trim()) search(input.value); else suggestions();
    input.focus();
  });
  fb.addEventListener('click', e => {
    const v = e.target.closest('[data-kbw-vote]');
    if (!v || !current || current.voted) return;
    current.voted = true;
    track('feedback', { url: current.url, helpful: v.dataset.kbwVote });
    thanks.textContent = thanks.dataset[v.dataset.kbwVote];
    fb.classList.add('is-done');
  });
  // contact links and answer links open outside the iframe (analytics.js records the contact click)
  d.querySelectorAll('.kbw-contact a').forEach(a => { a.target = '_blank'; a.rel = 'noopener'; });

  // -- closing: Esc or the close button; the launcher hides the iframe and moves focus back ----------
  const close = () => post({ kb: 'close' });
  $('[data-kbw-close]').addEventListener('click', close);
  d.addEventListener('keydown', e => { if (e.key == 'Escape') { e.preventDefault(); close(); } });

  W.addEventListener('message', e => {
    if (!parentOrigin || e.origin !== parentOrigin || e.source !== W.parent) return;
    const m = e.data;
    // the shape: {kb: "open", path: string, query?, article?, suggest?: string}, nothing else
    const opt = k => m[k] === undefined || typeof m[k] == 'string';
    if (!m || typeof m != 'object' || Array.isArray(m) || m.kb !== 'open' || typeof m.path != 'string' ||
      !['query', 'article', 'suggest'].every(opt) || Object.keys(m).some(k => !/^(kb|path|query|article|suggest)$/.test(k))) return;
    open({ path: m.path, query: m.query, article: m.article, suggest: m.suggest });
  });

  open({ path: P.get('p'), query: P.get('q'), article: P.get('a'), suggest: P.get('s') });
  post({ kb: 'ready' });
})();
