/* kbgen search UI: search-as-you-type in every form[data-kb-search] (ARIA 1.2 combobox + listbox) and the
 * /search/?q=&category= page ([data-kb-search-page]). Engine: window.kbSearchCore (search-core.js).
 * Index and URL strings reach the DOM only as text nodes; every href starts with <body data-kb-base>.
 *
 * Analytics via window.kb?.track?.(), one report per *settled* query, never per keystroke. A query settles
 * when: the customer stops typing for 1 s with its results shown; presses Enter (header box or search page);
 * clicks a result; picks "Did you mean"; or opens /search/?q=… (skipped when the header box reported the same
 * query just before navigating there). On settle: `search` {query, results: matching pages}, and also
 * `search_no_results` {query} when results is 0; a query equal to the last reported one is not re-sent.
 * On a result click, after settling: `search_click` {query, url: site-relative page path, rank: 1-based
 * position of the clicked link among the displayed result links}.
 */
(() => {
  const d = document, W = window, SK = 'kb-search-tracked';
  const base = (d.body.dataset.kbBase || '/').replace(/\/?$/, '/');
  const S = {
    lang: 'en', results: { one: '{n} result', other: '{n} results' }, none: 'No results for “{q}”', dym: 'Did you mean', all: 'All',
    seeAll: 'See all results for “{q}”', filter: 'Filter by category', error: 'Search is unavailable right now.',
    fixed: 'Showing results for {q}', instead: 'search instead for {q}', more: 'More from this page',
    showMore: 'Show more results'
  };
  try { Object.assign(S, JSON.parse(d.getElementById('kb-search-i18n').textContent)); } catch (e) { /* English */ }
  const fmt = (k, v) => S[k].replace(/\{(\w+)\}/g, (m, x) => v[x] ?? m);
  // result counts in the page's plural forms (CLDR categories, as the Python side's Babel): { one, few, … other }
  let PR;
  try { PR = new Intl.PluralRules(S.lang); } catch (e) { PR = { select: n => n === 1 ? 'one' : 'other' }; }
  const count = n => { const r = S.results; return (typeof r == 'string' ? r : r[PR.select(n)] || r.other).replace('{n}', n); };
  const norm = q => q.trim().replace(/\s+/g, ' ');
  const store = (f) => { try { return f(sessionStorage); } catch (e) { /* private mode */ } };
  let loading, uid = 0, tracked = store(s => s.getItem(SK));
  store(s => s.removeItem(SK));

  const core = () => W.kbSearchCore;
  const ready = () => loading || (loading = core()
    ? Promise.resolve(core().load(base + '_search/meta.json')).catch(e => { loading = 0; throw e; })
    : Promise.reject(Error('no kbSearchCore')));
  const ask = (q, o) => ready().then(() => core().query(q, o));

  const el = (tag, cls, text, at) => {
    const e = d.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    for (const k in at) e.setAttribute(k, at[k]);
    return e;
  };
  const link = (url, anchor) => base + String(url || '').replace(/^[/\\]+/, '') + (anchor ? '#' + anchor : '');
  const pageHref = (q, cat, exact) => base + 'search/?' + new URLSearchParams(
    Object.assign({ q }, cat ? { category: cat } : {}, exact ? { exact: 1 } : {}));
  // S[k] with its {q} replaced by `node` (an element), the rest as text
  const fill = (cls, k, node) => { const p = el('p', cls), [b, ...a] = S[k].split('{q}'); p.append(b, node, a.join('{q}')); return p; };
  const phone = () => W.matchMedia?.('(max-width:39.99em)').matches;
  // `text` with <mark> around the [start, end) `ranges`, which index into `src` (a string containing
  // `text`: "Title › Section" for a section heading, found from the end when `last`).
  const marked = (cls, text, src, ranges, last) => {
    const f = el('span', cls), o = src == null ? 0 : last ? src.lastIndexOf(text) : src.indexOf(text);
    let at = 0;
    (o < 0 ? [] : ranges || []).map(r => [r[0] - o, r[1] - o]).sort((a, b) => a[0] - b[0]).forEach(([s, e]) => {
      s = Math.max(s, at); e = Math.min(e, text.length);
      if (e > s) f.append(text.slice(at, s), el('mark', '', text.slice(s, e)));
      at = Math.max(at, e);
    });
    f.append(text.slice(at));
    return f;
  };
  const track = (n, p) => { try { W.kb?.track?.(n, p); } catch (e) { /* never break search */ } };
  const settle = (q, n) => {
    q = norm(q);
    if (!q || q === tracked) return;
    tracked = q;
    track('search', { query: q, results: n });
    if (!n) track('search_no_results', { query: q });
  };
  const total = a => a.total ?? (a.grouped || []).length;
  // One page of results (title, category, snippet) with links to its best `subs` sections / questions (each
  // with the page's title beside its heading) and "More from this page" when it has more; compact: the title
  // only (the phone dropdown). opt(link) registers each link; clicked(link, url) runs on click.
  const draw = (g, subs, opt, clicked, compact) => {
    const units = g.units && g.units.length ? g.units : [g], top = units.find(u => !u.anchor) || units[0];
    const title = top.pageTitle || g.title, wrap = el('div', 'kb-sr-group'), a = el('a', 'kb-sr-page');
    a.href = link(g.url);
    a.append(marked('kb-sr-title', title, top.title, top.titleHighlights));
    if (g.category) a.append(el('span', 'kb-sr-cat', g.category));
    if (!top.anchor && top.snippet && !compact) a.append(marked('kb-sr-snip', top.snippet, null, top.highlights));
    wrap.append(a);
    const secs = compact ? [] : units.filter(u => u.anchor);
    secs.slice(0, subs).forEach(u => {
      const s = el('a', 'kb-sr-sub');
      s.href = link(g.url, u.anchor);
      s.append(marked('kb-sr-title', u.heading || u.title, u.title, u.titleHighlights, 1), el('span', 'kb-sr-in', title));
      if (u.snippet) s.append(marked('kb-sr-snip', u.snippet, null, u.highlights));
      wrap.append(s);
    });
    if (secs.length > subs) {
      const m = el('a', 'kb-sr-more', S.more);
      m.href = link(g.url);
      wrap.append(m);
    }
    // The opened page gets the query as ?sq= (like Sphinx's ?highlight=; not ?q=, which fills the search
    // boxes): analytics.js links a contact click or a "No" there to the search that led to it, with no
    // cookie, storage or session id.
    wrap.querySelectorAll('a').forEach(x => { opt(x); x.addEventListener('click', () => {
      const sq = clicked(x, g.url);
      if (sq) x.search = '?' + new URLSearchParams({ sq });
    }); });
    return [wrap, title];
  };
  // "Showing results for refund — search instead for refnud" (the words as typed: no typo alternatives)
  const fixLine = (a, q, go) => {
    const b = el('a', '', norm(q)), line = fill('kb-sr-fix', 'fixed', el('b', '', a.corrected.query));
    b.href = pageHref(norm(q), '', 1);
    if (go) b.addEventListener('click', e => { e.preventDefault(); go(q, 1); });
    line.append(' — ', ...fill('', 'instead', b).childNodes);
    return line;
  };
  const dymLink = (dym, go) => {
    const a = el('a', 'kb-sr-dym', S.dym + ' ');
    a.href = pageHref(dym);
    a.append(el('b', '', dym), '?');
    a.addEventListener('click', e => { e.preventDefault(); go(dym); });
    return a;
  };

  /* ---------- search box with a results listbox (header, home hero, 404) ---------- */
  const box = form => {
    const input = form.querySelector('[data-kb-search-input]'), panel = form.querySelector('[data-kb-search-results]');
    if (!input || !panel) return;
    const id = 'kb-s' + ++uid, msg = el('p', 'kb-sr-msg'), live = el('div', 'kb-sr-only', '', { role: 'status' });
    const fixed = el('div', 'kb-sr-fixbox'); // outside the listbox: it holds options only
    const list = el('div', 'kb-sr-list', null, {
      id, role: 'listbox', 'aria-label': (input.labels?.[0] || input).textContent || input.placeholder || 'Search'
    });
    const set = (k, v) => input.setAttribute(k, v);
    let opts = [], active = -1, seq = 0, timer, idle, full, last, typedAt = 0;
    panel.classList.add('kb-sr-panel');
    panel.replaceChildren(msg, fixed, list);
    form.append(live);
    form.classList.add('kb-sr-form');
    set('role', 'combobox'); set('aria-autocomplete', 'list'); set('aria-controls', id);
    set('aria-expanded', 'false'); set('autocomplete', 'off');

    const move = i => {
      opts[active]?.setAttribute('aria-selected', 'false');
      const o = opts[active = i];
      if (!o) return input.removeAttribute('aria-activedescendant');
      o.setAttribute('aria-selected', 'true');
      set('aria-activedescendant', o.id);
      o.scrollIntoView({ block: 'nearest' });
    };
    const open = on => {
      panel.hidden = !on;
      set('aria-expanded', on);
      if (!on) move(-1);
    };
    const opt = a => {
      a.id = id + '-' + opts.length;
      a.tabIndex = -1;
      a.setAttribute('role', 'option');
      a.setAttribute('aria-selected', 'false');
      opts.push(a);
    };
    const clicked = (a, url) => {
      if (last) settle(last.q, last.n);
      const q = norm(last ? last.q : input.value);
      if (url) track('search_click', { query: q, url, rank: opts.indexOf(a) + 1 });
      open(false);
      return q;
    };
    const go = q => { input.value = q; run(1); input.focus(); };
    const render = (q, a, now) => {
      const n = total(a);
      // As-you-type answers may leave out what is not loaded yet: the whole answer once typing pauses
      // (not for a last word of one or two letters: its completions span many shards, and it is not a word yet).
      if ((a.partial || (!n && a.typing)) && !/(^|\s)\S{1,2}$/.test(q)) full = setTimeout(() => run(0, 1), 300);
      // A half-typed word ("refn" on the way to "refnud") that matches nothing: keep what is shown.
      if (!n && a.typing) return;
      // Nothing for the whole query while keys still come (one within the last second, as on a slow phone):
      // "No results" only once typing stops, or at once on Enter.
      if (!n && !now && Date.now() - typedAt < 1000) { full = setTimeout(() => render(q, a, 1), 1000 - (Date.now() - typedAt)); return; }
      if (!n && !a.didYouMean && norm(q).length < 3) return open(false); // too short to say "no results"
      opts = []; active = -1; last = { q, n };
      msg.textContent = n ? '' : fmt('none', { q: norm(q) });
      msg.hidden = !!n;
      const small = phone();
      list.replaceChildren(...(a.grouped || []).slice(0, small ? 5 : 6).map(g => {
        const [w, title] = draw(g, 2, opt, clicked, small);
        w.setAttribute('role', 'group');
        w.setAttribute('aria-label', title);
        return w;
      }));
      if (!n && a.didYouMean) list.append(dymLink(a.didYouMean, go));
      fixed.replaceChildren(...(n && a.corrected ? [fixLine(a, q)] : []));
      const all = el('a', 'kb-sr-all', fmt('seeAll', { q: norm(q) }));
      all.href = pageHref(norm(q));
      all.addEventListener('click', () => { clicked(all); store(s => s.setItem(SK, norm(q))); });
      list.append(all);
      list.querySelectorAll('.kb-sr-dym,.kb-sr-all').forEach(opt);
      live.textContent = n ? count(n) : msg.textContent;
      open(true);
      idle = setTimeout(() => last?.q === q && settle(q, n), 1000 - (Date.now() - typedAt));
    };
    const run = (now, whole) => {
      const q = input.value, my = ++seq;
      clearTimeout(timer); clearTimeout(idle); clearTimeout(full);
      if (!q.trim()) { last = 0; live.textContent = ''; return open(false); }
      ask(q, { limit: 6, typing: !now && !whole }).then(a => my === seq && (render(q, a, now), now && settle(q, last.n)), () => {
        if (my !== seq) return;
        msg.textContent = S.error; msg.hidden = false; list.replaceChildren(); fixed.replaceChildren(); opts = []; open(true);
      });
    };

    input.addEventListener('input', () => {
      typedAt = Date.now();
      clearTimeout(timer); clearTimeout(idle); clearTimeout(full);
      timer = setTimeout(run, 80);
    });
    input.addEventListener('focus', () => last && input.value === last.q && open(true));
    input.addEventListener('keydown', e => {
      const k = e.key, n = opts.length, shown = !panel.hidden;
      if (/^Arrow(Down|Up)$/.test(k)) {
        if (!n) return;
        e.preventDefault();
        if (!shown) return open(true);
        move(k === 'ArrowDown' ? (active + 1) % n : (active < 1 ? n : active) - 1);
      } else if (k === 'Enter' && shown && opts[active]) {
        e.preventDefault();
        opts[active].click();
      } else if (k === 'Escape' && shown) {
        e.preventDefault();
        open(false);
      }
    });
    // Enter without a highlighted option: the form goes to the search page (its action), also without JS.
    form.addEventListener('submit', () => {
      if (last?.q === input.value) { settle(last.q, last.n); store(s => s.setItem(SK, norm(last.q))); }
    });
    panel.addEventListener('mousedown', e => e.preventDefault()); // keep the focus in the box
    form.addEventListener('focusout', e => !form.contains(e.relatedTarget) && open(false));
  };

  /* ---------- the search page ---------- */
  const searchPage = root => {
    const form = root.querySelector('form[data-kb-search]') || d.querySelector('form[data-kb-search]');
    const input = form?.querySelector('[data-kb-search-input]'), params = new URLSearchParams(location.search);
    const status = el('p', 'kb-sp-status', '', { role: 'status' }), out = el('div', 'kb-sp-results');
    const chips = el('div', 'kb-sp-chips', '', { role: 'group', 'aria-label': S.filter }), empty = el('div', 'kb-sp-empty');
    let cat = params.get('category') || '', q = params.get('q') || '', exact = !!params.get('exact'), seq = 0, timer, idle, last, shown = 10;
    const fix = el('div', 'kb-sp-fix'), more = el('button', 'kb-btn kb-sp-more', S.showMore, { type: 'button' });
    more.hidden = true;
    more.addEventListener('click', () => {
      shown += 10; show();
      out.querySelectorAll('.kb-sr-page')[shown - 10]?.focus();
    });
    root.classList.add('kb-sp');
    root.removeAttribute('aria-live'); // the status line announces the count
    root.append(status, fix, chips, out, more, empty);
    if (input) {
      input.value = q;
      if (!q) input.focus();
      form.querySelector('[data-kb-search-results]')?.setAttribute('hidden', '');
    }
    const sync = () => {
      const u = new URL(location.href);
      u.search = norm(q) ? new URLSearchParams(Object.assign({ q: norm(q) }, cat ? { category: cat } : {}, exact ? { exact: 1 } : {})) : '';
      history.replaceState(history.state, '', u);
    };
    const clone = id => d.getElementById(id)?.content?.cloneNode(true) || '';
    const show = () => {
      const { a } = last, cats = new Map();
      (a.grouped || []).forEach(g => g.categorySlug && cats.set(g.categorySlug, [g.category, (cats.get(g.categorySlug)?.[1] || 0) + 1]));
      if (cat && !cats.has(cat)) { cat = ''; sync(); }
      const gs = (a.grouped || []).filter(g => !cat || g.categorySlug === cat);
      let rank = 0;
      const chip = (slug, label) => {
        const b = el('button', 'kb-sp-chip', label, { type: 'button', 'aria-pressed': slug === cat });
        b.addEventListener('click', () => { cat = slug; shown = 10; sync(); show(); });
        return b;
      };
      chips.replaceChildren(...(cats.size > 1 ? [chip('', S.all), ...[...cats].map(([s, [t, n]]) => chip(s, t + ' (' + n + ')'))] : []));
      out.replaceChildren(...gs.slice(0, shown).map(g => draw(g, 2, x => { x.dataset.rank = ++rank; }, (x, url) => {
        settle(last.q, last.n);
        track('search_click', { query: norm(last.q), url, rank: +x.dataset.rank });
        return norm(last.q);
      })[0]));
      out.querySelectorAll('.kb-sr-group').forEach(w => w.classList.add('kb-sp-item'));
      status.textContent = gs.length ? count(gs.length) : fmt('none', { q: norm(last.q) });
      more.hidden = gs.length <= shown;
      fix.replaceChildren(...(gs.length && a.corrected ? [fixLine(a, last.q, go)] : []));
      empty.replaceChildren(...(gs.length ? [] : [a.didYouMean ? dymLink(a.didYouMean, go) : '', clone('kb-popular-template'), clone('kb-contact-template')]));
    };
    const run = (now, first) => {
      const my = ++seq;
      if (input) q = input.value;
      clearTimeout(timer); clearTimeout(idle);
      if (!first) sync();
      if (!q.trim()) { last = 0; more.hidden = true; return [status, fix, chips, out, empty].forEach(x => x.replaceChildren()); }
      ask(q, { limit: 100, prefix: !now, typos: !exact }).then(a => {
        if (my !== seq) return;
        last = { q, a, n: total(a) };
        shown = 10;
        show();
        idle = setTimeout(() => settle(last.q, last.n), now ? 0 : 1000);
      }, () => { if (my === seq) status.textContent = S.error; });
    };
    const go = (v, lit) => { q = v; exact = !!lit; if (input) input.value = v; run(1); };
    if (input) {
      input.addEventListener('input', () => { exact = false; clearTimeout(timer); clearTimeout(idle); timer = setTimeout(run, 80); });
      form.addEventListener('submit', e => { e.preventDefault(); run(1); });
    }
    run(1, 1);
    return form;
  };

  const root = d.querySelector('[data-kb-search-page]'), own = root && searchPage(root);
  d.querySelectorAll('form[data-kb-search]').forEach(f => f !== own && box(f));
  d.addEventListener('focusin', e => e.target.matches?.('[data-kb-search-input]') && ready().catch(() => {}));
})();
