/**
 * kbgen search core — the browser search engine over the static export in `site/_search/`.
 * Plain JS, no framework, no build step.  Owned by the search core; the UI lives in search.js.
 *
 * API (stable contract with search.js):
 *
 *   window.kbSearchCore.load(metaHref?) → Promise<void>
 *       Starts fetching the index; idempotent (same promise on every call).  Call it as soon as a
 *       search box gets focus.  metaHref defaults to `<body data-kb-base>` + "_search/meta.json"
 *       (data-kb-base ends with "/").  Rejects if the index cannot be fetched.
 *
 *   window.kbSearchCore.query(q, {category, limit, prefix}?) → Promise<Answer>
 *       q        raw text as typed; the last word is treated as a prefix unless prefix === false
 *                (pass prefix:false for a submitted search, e.g. the search page on Enter/?q=).
 *       category optional category slug (from categories()); only results in it are returned.
 *       limit    max pages in `grouped` (default 10); `results` holds at most limit units.
 *       Calls load() itself if needed.  An empty/stop-word-only query resolves to empty results.
 *       Answer = {
 *         query: string,                  // q as given
 *         terms: string[],                // the query words kept (lower-cased, stop words dropped)
 *         results: Result[],              // flat units, best first
 *         grouped: Group[],               // pages, best first (page ranked by its best unit)
 *         total: number,                  // number of matching pages before the limit
 *         didYouMean?: string,            // only when nothing matched: a corrected query to offer
 *       }
 *       Result = {
 *         title: string,        // unit title: the article title, or "Article title › Section/Question"
 *         pageTitle: string,    // the article title
 *         heading: string,      // section heading / FAQ question ("" for the page's own unit)
 *         url: string,          // site-relative page path, e.g. "/orders/tracking/track-your-order/"
 *         anchor: string,       // fragment id without "#", "" for the page unit
 *         href: string,         // ready-to-use link: base + url (+ "#" + anchor)
 *         category: string,     // category title ("" if none)
 *         categorySlug: string,
 *         type: string,         // "article" | "faq" | "howto"
 *         score: number,
 *         snippet: string,      // PLAIN TEXT (never HTML) excerpt around the matched words
 *         highlights: [number, number][],  // [start, end) offsets into snippet of matched words
 *         titleHighlights: [number, number][], // same, into title
 *         matchedTerms: string[],          // index terms that matched (for analytics/debug)
 *       }
 *       Group = { title, url, href, category, categorySlug, type, score, snippet, highlights,
 *                 titleHighlights, units: Result[] }   // page-level fields taken from its best unit
 *       All strings are plain text: insert them with textContent / createTextNode, never innerHTML.
 *
 *   window.kbSearchCore.categories() → Promise<{slug, title}[]>   // for a category filter
 *   window.kbSearchCore.suggest(prefix, n=5) → Promise<string[]>   // vocabulary completions
 */
(function () {
  "use strict";
  var W = window;
  var ALPHA = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!#";
  var DEC = {};
  for (var i = 0; i < 64; i++) DEC[ALPHA.charCodeAt(i)] = i;
  // Python's \w+ runs joined by "." or "-" (kbgen/search/schema.py TOKEN_PATTERN).
  var TOKEN = /[\p{L}\p{N}_]+(?:[.\-][\p{L}\p{N}_]+)*/gu;
  var MARKS = /\p{Mn}/gu;

  function unpack(s) { // varint string → numbers (export.py pack)
    var out = [], acc = 0;
    for (var i = 0; i < s.length; i++) {
      var v = DEC[s.charCodeAt(i)];
      if (v >= 32) acc = acc * 32 + (v - 32); else { out.push(acc * 32 + v); acc = 0; }
    }
    return out;
  }
  function fold(s) {
    s = s.toLowerCase();
    return /^[\x00-\x7f]*$/.test(s) ? s : s.normalize("NFD").replace(MARKS, "");
  }
  function clen(s) { return Array.from(s).length; }
  function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

  // ---- state ---------------------------------------------------------------------------------
  var S = null, loading = null, base = "";

  function fetchJSON(url) {
    return fetch(url).then(function (r) {
      if (!r.ok) throw new Error("kbSearchCore: " + r.status + " " + url);
      return r.json();
    });
  }
  function lexicon(L) {
    var words = [], prev = "", parts = L.words ? L.words.split("|") : [];
    for (var i = 0; i < parts.length; i++) {
      var e = parts[i];
      prev = prev.slice(0, DEC[e.charCodeAt(0)]) + e.slice(1);
      words.push(prev);
    }
    return {
      words: words, wt: L.wt ? wordTerms(L.wt, words.length) : null, pop: L.pop ? unpack(L.pop) : null,
      wpop: L.wpop ? unpack(L.wpop) : null, syn: L.syn || {}
    };
  }
  function wordTerms(packed, count) { // export.py pack_word_terms: per word, n - 1 then zigzag deltas
    var nums = unpack(packed), wt = [], last = 0, k = 0;
    for (var i = 0; i < count; i++) {
      var n = nums[k++] + 1, ts = [];
      while (n--) { var z = nums[k++]; last += z & 1 ? -(z + 1) / 2 : z / 2; ts.push(last); }
      wt.push(ts);
    }
    return wt;
  }
  function setup(meta, bundle) {
    var lex = lexicon(bundle ? bundle.lexicon : meta.lexicon);
    var st = {
      meta: meta, rk: meta.ranking, lex: lex, stop: new Set(meta.stop), sharded: !bundle,
      post: {}, termWords: null, recs: {}, arts: {}, shards: {}, shardData: {}, termEntry: {}, docs: {}
    };
    if (bundle) {
      st.rawPost = bundle.post;
      st.lens = bundle.lens.map(unpack);
      st.units = bundle.units;
      st.articles = bundle.articles;
      st.unitArticle = bundle.units.map(function (u) { return u[0]; });
    } else {
      var runs = unpack(meta.articleRuns), ua = [];
      for (var a = 0; a < runs.length; a++) for (var j = 0; j < runs[a]; j++) ua.push(a);
      st.unitArticle = ua;
    }
    return st;
  }

  function load(metaHref) {
    if (loading) return loading;
    if (!metaHref) {
      var b = (document.body && document.body.getAttribute("data-kb-base")) || "/";
      metaHref = b + "_search/meta.json";
    }
    var url = new URL(metaHref, document.baseURI);
    base = url.href.replace(/_search\/meta\.json(\?.*)?$/, "");
    loading = fetchJSON(url.href).then(function (meta) {
      var dir = new URL(".", url.href).href;
      S = { dir: dir };
      if (meta.bundle) return fetchJSON(dir + meta.bundle).then(function (b) { S = setup(meta, b); S.dir = dir; });
      S = setup(meta, null); S.dir = dir;
    }).catch(function (e) { loading = null; throw e; });
    return loading;
  }

  // ---- lexicon and query expansion (kbgen/search/lexicon.py) ------------------------------------
  function find(word) { // index of word in the sorted list, or -(insertion point) - 1
    var w = S.lex.words, lo = 0, hi = w.length;
    while (lo < hi) { var m = (lo + hi) >> 1; if (w[m] < word) lo = m + 1; else hi = m; }
    return lo < w.length && w[lo] === word ? lo : -lo - 1;
  }
  function wordPop(i) {
    if (S.lex.wpop) return S.lex.wpop[i];
    var ts = S.lex.wt[i], p = 0;
    for (var k = 0; k < ts.length; k++) if (S.lex.pop[ts[k]] > p) p = S.lex.pop[ts[k]];
    return p;
  }
  function termsOfIndex(i) { // the term ids of word i (sharded: from the loaded shard of its range)
    if (S.lex.wt) return S.lex.wt[i];
    var sh = S.shardData[shardOf(S.lex.words[i])];
    if (!sh) return [];
    if (!sh._wt) sh._wt = wordTerms(sh.wt, sh.words[1] - sh.words[0]);
    return sh._wt[i - sh.words[0]] || [];
  }
  function completions(prefix, limit) {
    var i = find(prefix), lo = i >= 0 ? i : -i - 1, w = S.lex.words, out = [];
    for (var k = lo; k < w.length && w[k].lastIndexOf(prefix, 0) === 0; k++) if (w[k] !== prefix) out.push(k);
    out.sort(function (a, b) { return wordPop(b) - wordPop(a) || cmp(w[a], w[b]); });
    return out.slice(0, limit);
  }
  function osa(a, b, limit) { // optimal string alignment distance, or limit + 1
    var la = a.length, lb = b.length;
    if (Math.abs(la - lb) > limit) return limit + 1;
    var p2 = null, p = [], c, j;
    for (j = 0; j <= lb; j++) p.push(j);
    for (var i = 1; i <= la; i++) {
      c = [i]; var best = i, ca = a[i - 1];
      for (j = 1; j <= lb; j++) {
        var v = Math.min(p[j] + 1, c[j - 1] + 1, p[j - 1] + (ca === b[j - 1] ? 0 : 1));
        if (i > 1 && j > 1 && ca === b[j - 2] && a[i - 2] === b[j - 1] && p2[j - 2] + 1 < v) v = p2[j - 2] + 1;
        c.push(v); if (v < best) best = v;
      }
      if (best > limit) return limit + 1;
      p2 = p; p = c;
    }
    return p[lb] <= limit ? p[lb] : limit + 1;
  }
  function typos(word, budget, limit) {
    if (budget <= 0) return [];
    var w = S.lex.words, found = [], chars = Array.from(word), n = chars.length;
    for (var i = 0; i < w.length; i++) {
      var x = w[i];
      if (Math.abs(x.length - word.length) > budget + 1 || x === word) continue;
      var xc = Array.from(x);
      if (Math.abs(xc.length - n) > budget) continue;
      var d = osa(chars, xc, budget);
      if (d <= budget) found.push([d, -wordPop(i), x, i]);
    }
    found.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || cmp(a[2], b[2]); });
    return found.slice(0, limit).map(function (f) { return [f[3], f[0]]; });
  }
  function budgetOf(word) { var n = clen(word); return n >= 8 ? 2 : n >= 4 ? 1 : 0; }

  function queryWords(text) {
    var out = [], lastKept = false, m;
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(text))) {
      var w = fold(m[0].replace(/-/g, "")), n = clen(w);
      lastKept = n >= 2 && n <= 40 && !S.stop.has(w);
      if (lastKept && out.indexOf(w) < 0) out.push(w);
      else if (lastKept) lastKept = false;
    }
    var last = text.slice(-1);
    TOKEN.lastIndex = 0;
    var typing = lastKept && text.length > 0 && !/\s/.test(last) && TOKEN.test(last);
    TOKEN.lastIndex = 0;
    return { words: out, typing: typing };
  }
  function plan(text, prefix) { // which words each query word may match: decided from the lexicon alone
    var rk = S.rk, qw = queryWords(text);
    return qw.words.map(function (word, pos) {
      var p = { word: word, exact: find(word), syn: [], comps: [], typos: [] };
      if (Object.prototype.hasOwnProperty.call(S.lex.syn, word)) p.syn = S.lex.syn[word];
      if (prefix && qw.typing && pos === qw.words.length - 1 && clen(word) >= rk.minPrefix) p.comps = completions(word, rk.maxExpansions);
      if (p.exact < 0 && !p.syn.length && !p.comps.length) p.typos = typos(word, budgetOf(word), rk.maxExpansions);
      return p;
    });
  }
  function expand(plans) { // → [{word, alts: {term id: weight}, kind}], as lexicon.expand_query
    var rk = S.rk, out = [], seen = {};
    plans.forEach(function (p) {
      var alts = {}, kind = "none";
      function add(t, w, k) { if ((alts[t] || 0) < w) { alts[t] = w; if (kind !== "exact") kind = k; } }
      if (p.exact >= 0) termsOfIndex(p.exact).forEach(function (t) { alts[t] = 1; kind = "exact"; });
      p.syn.forEach(function (t) { add(t, rk.synonymWeight, "synonym"); });
      p.comps.forEach(function (k) { termsOfIndex(k).forEach(function (t) { add(t, rk.prefixWeight, "prefix"); }); });
      p.typos.forEach(function (c) { termsOfIndex(c[0]).forEach(function (t) { add(t, rk.typoWeight[c[1]], "typo"); }); });
      var key = Object.keys(alts).map(Number).sort(function (a, b) { return a - b; }).join(",");
      if (key && seen[key]) return;
      seen[key] = 1;
      out.push({ word: p.word, alts: alts, kind: kind });
    });
    return out;
  }
  function didYouMean(text) {
    var words = queryWords(text).words, changed = false;
    if (!words.length) return undefined;
    var fixed = words.map(function (w) {
      if (find(w) >= 0) return w;
      var c = typos(w, Math.max(1, Math.min(2, Math.floor(clen(w) / 3))), 1);
      if (c.length) { changed = true; return S.lex.words[c[0][0]]; }
      return w;
    });
    return changed ? fixed.join(" ") : undefined;
  }

  // ---- scoring (kbgen/search/query.py: Whoosh BM25F per word, summed, × coordination × prior) -----
  function bm25(idf, tf, fl, avgfl, B, K1) {
    return idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)));
  }
  function termPostings(t) { // bundle: [[fieldIndex, df, units[], tfs[]], …]
    var p = S.post[t];
    if (p) return p;
    var raw = S.rawPost[t] || [], out = [];
    for (var i = 0; i < raw.length; i += 3) {
      var nums = unpack(raw[i + 2]), us = [], tfs = [], u = -1;
      for (var k = 0; k < nums.length; k += 2) { u += nums[k] + 1; us.push(u); tfs.push(nums[k + 1]); }
      out.push([raw[i], raw[i + 1], us, tfs]);
    }
    return (S.post[t] = out);
  }
  function altScores(t, w, into) { // unit → score of alternative (term t, weight w)
    var m = S.meta, rk = S.rk, sc = new Map();
    if (S.sharded) {
      var p = shardTerm(t);
      if (p) for (var i = 0; i < p[0].length; i++) sc.set(p[0][i], p[1][i] * p[2] * w);
    } else {
      termPostings(t).forEach(function (fp) {
        var f = m.fields[fp[0]], idf = Math.log(m.N / (fp[1] + 1)) + 1, boost = rk.boosts[f] * w;
        var B = rk.b[f], avg = m.avgfl[fp[0]], lens = S.lens[fp[0]], us = fp[2], tfs = fp[3];
        for (var i = 0; i < us.length; i++) {
          var s = bm25(idf, tfs[i], lens[us[i]], avg, B, rk.k1) * boost;
          sc.set(us[i], (sc.get(us[i]) || 0) + s);
        }
      });
    }
    return sc;
  }
  function prior(a) {
    if (S.sharded) return 1; // folded into the shard impacts
    var art = S.articles[a], rk = S.rk, mv = S.meta.maxViews, views = art[4];
    var pop = mv > 0 && views > 0 ? Math.log1p(views) / Math.log1p(mv) : 0;
    return (1 + rk.popularityWeight * pop) * (art[5] ? rk.promotedBoost : 1);
  }
  function rank(words, category) {
    var sums = new Map(), counts = new Map(), n = 0, matched = {};
    words.forEach(function (qw) {
      var ts = Object.keys(qw.alts).map(Number).sort(function (a, b) { return a - b; });
      if (!ts.length) return;
      n++;
      var best = new Map();
      ts.forEach(function (t) {
        altScores(t, qw.alts[t]).forEach(function (s, u) {
          var b = best.get(u);
          if (b === undefined || s > b) best.set(u, s);
        });
      });
      best.forEach(function (s, u) {
        sums.set(u, (sums.get(u) || 0) + s);
        counts.set(u, (counts.get(u) || 0) + 1);
      });
      ts.forEach(function (t) { matched[t] = 1; });
    });
    var cat = -1;
    if (category) S.meta.categories.forEach(function (c, i) { if (c[0] === category) cat = i; });
    var out = [];
    sums.forEach(function (s, u) {
      var a = S.unitArticle[u];
      if (category && articleCat(a) !== cat) return;
      var coord = n <= 1 ? 1 : Math.pow(counts.get(u) / n, S.rk.coordPower);
      out.push([s * coord * prior(a), u, a]);
    });
    out.sort(function (x, y) { return y[0] - x[0] || x[1] - y[1]; });
    return { ranked: out, terms: matched };
  }
  function articleCat(a) {
    var art = S.articles ? S.articles[a] : S.arts[a];
    return art ? art[2] : -2;
  }

  // ---- sharded layout: postings and display data loaded on demand -----------------------------
  function shardOf(str) { // the shard whose range holds this word (or synonym form)
    var sh = S.meta.shards, lo = 0, hi = sh.length - 1;
    while (lo < hi) { var m = (lo + hi + 1) >> 1; if (sh[m] <= str) lo = m; else hi = m - 1; }
    return lo;
  }
  function shardTerm(t) {
    if (S.post[t] !== undefined) return S.post[t];
    var e = S.termEntry[t], out = null;
    if (e) {
      var nums = unpack(e[1]), us = [], qs = [], u = -1;
      for (var k = 0; k < nums.length; k += 2) { u += nums[k] + 1; us.push(u); qs.push(nums[k + 1]); }
      out = [us, qs, e[0]];
    }
    return (S.post[t] = out);
  }
  function need(plans) {
    if (!S.sharded) return Promise.resolve();
    var want = {}, w = S.lex.words;
    plans.forEach(function (p) {
      if (p.exact >= 0 || p.syn.length) want[shardOf(p.word)] = 1;
      p.comps.forEach(function (k) { want[shardOf(w[k])] = 1; });
      p.typos.forEach(function (c) { want[shardOf(w[c[0]])] = 1; });
    });
    return Promise.all(Object.keys(want).map(getShard));
  }
  function getShard(i) {
    if (S.shards[i]) return S.shards[i];
    return (S.shards[i] = fetchJSON(S.dir + "shard." + S.meta.shardSet + "." + i + ".json").then(function (d) {
      Object.keys(d.terms).forEach(function (t) { if (!S.termEntry[t]) S.termEntry[t] = d.terms[t]; });
      Object.keys(d.recs).forEach(function (u) { if (!S.recs[u]) S.recs[u] = d.recs[u]; });
      Object.keys(d.articles).forEach(function (a) { S.arts[a] = d.articles[a]; });
      S.shardData[i] = d;
      return d;
    }));
  }
  function getDocs(i) {
    if (S.docs[i]) return S.docs[i];
    return (S.docs[i] = fetchJSON(S.dir + "docs." + S.meta.docsSet + "." + i + ".json").then(function (d) {
      d.units.forEach(function (r, k) { S.recs[d.lo + k] = r; S.recs[d.lo + k].full = 1; });
      Object.keys(d.articles).forEach(function (a) { S.arts[a] = d.articles[a]; });
      return (S.docs[i] = d);
    }));
  }
  function unitRec(u) { return S.sharded ? S.recs[u] : S.units[u]; }
  function articleRec(a) { return S.sharded ? S.arts[a] : S.articles[a]; }

  // ---- snippets: plain text + [start, end) offsets of the words whose term matched ---------------
  function termsOf(word) { var i = find(word); return i >= 0 ? termsOfIndex(i) : []; }
  function highlights(text, terms) {
    var out = [], m;
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(text))) {
      var tok = m[0].toLowerCase(), forms = [tok.replace(/-/g, "")].concat(/[.\-]/.test(tok) ? tok.split(/[.\-]/) : []);
      for (var i = 0; i < forms.length; i++) {
        var ts = termsOf(fold(forms[i])), hit = false;
        for (var k = 0; k < ts.length; k++) if (terms[ts[k]]) { hit = true; break; }
        if (hit) { out.push([m.index, m.index + m[0].length]); break; }
      }
    }
    TOKEN.lastIndex = 0;
    return out;
  }
  function snippet(text, terms, size) {
    size = size || 180;
    var hs = highlights(text, terms);
    if (text.length <= size) return { text: text, hl: hs };
    var start = 0;
    if (hs.length) { // the window starting near the highlight that has the most highlights after it
      var best = -1;
      for (var i = 0; i < hs.length; i++) {
        var c = 0;
        for (var j = i; j < hs.length && hs[j][1] <= hs[i][0] + size - 30; j++) c++;
        if (c > best) { best = c; start = hs[i][0]; }
      }
      start = Math.max(0, start - 30);
      var sp = text.lastIndexOf(" ", start);
      if (start > 0 && sp >= 0 && start - sp < 20) start = sp + 1;
    }
    var end = Math.min(text.length, start + size), sp2 = text.lastIndexOf(" ", end);
    if (end < text.length && sp2 > start + size * 0.7) end = sp2;
    var pre = start > 0 ? "… " : "", post = end < text.length ? " …" : "", shift = pre.length - start;
    return {
      text: pre + text.slice(start, end) + post,
      hl: hs.filter(function (h) { return h[0] >= start && h[1] <= end; }).map(function (h) { return [h[0] + shift, h[1] + shift]; })
    };
  }
  function matchedWords(terms) { // the surface words of the matched terms
    var out = [], w = S.lex.words;
    function scan(lo, hi) {
      for (var i = lo; i < hi && out.length < 20; i++) {
        var ts = termsOfIndex(i);
        for (var k = 0; k < ts.length; k++) if (terms[ts[k]]) { out.push(w[i]); break; }
      }
    }
    if (!S.sharded) {
      if (!S.termWords) { // reverse map, built once
        S.termWords = {};
        S.lex.wt.forEach(function (ts, i) { ts.forEach(function (t) { (S.termWords[t] = S.termWords[t] || []).push(w[i]); }); });
      }
      Object.keys(terms).forEach(function (t) {
        (S.termWords[t] || []).forEach(function (x) { if (out.length < 20 && out.indexOf(x) < 0) out.push(x); });
      });
    } else Object.keys(S.shardData).forEach(function (k) { var d = S.shardData[k]; scan(d.words[0], d.words[1]); });
    return out;
  }

  // ---- query ---------------------------------------------------------------------------------
  function query(q, opts) {
    opts = opts || {};
    var limit = opts.limit || 10, text = String(q || "");
    return load(opts.metaHref).then(function () {
      var plans = plan(text, opts.prefix !== false);
      return need(plans).then(function () {
        var words = expand(plans), r = rank(words, opts.category);
        var groups = [], byArt = new Map();
        for (var i = 0; i < r.ranked.length; i++) {
          var x = r.ranked[i], g = byArt.get(x[2]);
          if (!g) { if (groups.length >= limit) continue; g = { a: x[2], units: [] }; byArt.set(x[2], g); groups.push(g); }
          if (g.units.length < 5) g.units.push(x);
        }
        var total = new Set(r.ranked.map(function (x) { return x[2]; })).size;
        return display(groups).then(function () {
          return answer(text, words, r, groups, total, limit);
        });
      });
    });
  }
  function display(groups) {
    if (!S.sharded) return Promise.resolve();
    var want = {};
    groups.forEach(function (g) {
      var x = g.units[0];
      if (!S.recs[x[1]] || !S.arts[x[2]]) want[Math.floor(x[1] / S.meta.docsPer)] = 1;
    });
    return Promise.all(Object.keys(want).map(getDocs));
  }
  function answer(text, words, r, groups, total, limit) {
    var cats = S.meta.categories, results = [];
    var grouped = groups.map(function (g) {
      var art = articleRec(g.a) || ["", "", -1, "article"], cat = cats[art[2]] || ["", ""];
      var units = g.units.filter(function (x) { return unitRec(x[1]); }).map(function (x) {
        var u = unitRec(x[1]), title = u[2] ? art[0] + " › " + u[2] : art[0];
        var sn = snippet(u[3] || "", r.terms);
        return {
          title: title, pageTitle: art[0], heading: u[2] || "", url: art[1], anchor: u[1] || "",
          href: base + art[1].replace(/^\//, "") + (u[1] ? "#" + u[1] : ""),
          category: cat[1], categorySlug: cat[0], type: art[3], score: x[0],
          snippet: sn.text, highlights: sn.hl, titleHighlights: highlights(title, r.terms),
          matchedTerms: matchedWords(r.terms)
        };
      });
      var best = units[0] || {};
      return {
        title: art[0], url: art[1], href: base + art[1].replace(/^\//, ""), category: cat[1], categorySlug: cat[0],
        type: art[3], score: best.score, snippet: best.snippet, highlights: best.highlights,
        titleHighlights: highlights(art[0], r.terms), units: units
      };
    }).filter(function (g) { return g.units.length; });
    grouped.forEach(function (g) { if (results.length < limit) results.push(g.units[0]); });
    var ans = {
      query: text, terms: words.map(function (w) { return w.word; }),
      results: results, grouped: grouped, total: total
    };
    if (!grouped.length) { var d = didYouMean(text); if (d) ans.didYouMean = d; }
    return ans;
  }

  function suggest(prefix, n) {
    return load().then(function () {
      var w = fold(String(prefix || "").trim());
      if (clen(w) < 2) return [];
      return completions(w, n || 5).map(function (i) { return S.lex.words[i]; });
    });
  }
  function categories() {
    return load().then(function () {
      return S.meta.categories.map(function (c) { return { slug: c[0], title: c[1] }; });
    });
  }

  W.kbSearchCore = {
    load: load, query: query, suggest: suggest, categories: categories,
    _expand: function (t, p) { var ps = plan(t, p !== false); return need(ps).then(function () { return expand(ps); }); }
  };
})();
