/* kbgen search core: the browser engine over site/_search/ (export.py). UI: search.js. Contract:
 *
 * kbSearchCore.load(metaHref?) → Promise: fetch the index (idempotent; call on search-box focus).
 *   metaHref defaults to <body data-kb-base> + "_search/meta.json".
 * kbSearchCore.query(q, {category, limit = 10, prefix = true}) → Promise<{query, terms, results, grouped,
 *   total, didYouMean?, corrected?}>. The last word of q is a prefix unless prefix === false (submitted
 *   searches); typos === false matches the words as typed (no typo alternatives: "search instead for").
 *   corrected: when results were found through typo alternatives, {query: q with those words replaced by the
 *   word each matched, words: [[typed, used], …]} (display only: ranking is the same either way).
 *   typing: true (as-you-type, between keystrokes; large sites): the word being typed loads only its own
 *   shard, no tail is loaded; the answer then has `partial` (something was left out: ask again without
 *   `typing` when the customer pauses) and `typing` (the last word is still being typed).
 *   grouped: pages best first, {title, url, href, category, categorySlug, type, score, snippet,
 *     highlights, titleHighlights, units: Result[]}; results: the best unit of each page;
 *   Result: {title ("Page › Section" for a section), pageTitle, heading, url, anchor, href, category,
 *     categorySlug, type, score, snippet, highlights, titleHighlights, matchedTerms};
 *   highlights: [start, end) offsets into snippet / title. total: matching pages; didYouMean only when
 *   nothing matched. Every string is PLAIN TEXT: insert with textContent, never innerHTML.
 *   Large (sharded) sites: display data is fetched for the first 50 pages at most.
 * kbSearchCore.categories() → Promise<{slug, title}[]>; kbSearchCore.suggest(prefix, n = 5) →
 *   Promise<string[]> (vocabulary completions).
 *
 * Ranking = kbgen/search/query.py, step for step (the parity test holds them to it): each query word's
 * alternatives (exact, synonyms, phrase, completions, root, typos, bridge; lexicon.py) scored by Whoosh's BM25F
 * over the fields, best alternative per word, summed, × (matched word share)^coordPower, × prior, × the
 * problem boost of troubleshooting titles when the query describes a problem (schema.PROBLEM_PATTERNS).
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
  // schema.py FOLD_BEFORE: German "ü" is typed "ue" as often, "ß" as "ss": both fold to the latter.
  var FOLD_BEFORE = { de: { "\u00e4": "ae", "\u00f6": "oe", "\u00fc": "ue", "\u00df": "ss" }, pl: { "\u0142": "l" } }, foldMap = null;
  function fold(s) {
    s = s.toLowerCase();
    if (/^[\x00-\x7f]*$/.test(s)) return s;
    if (foldMap) s = s.replace(/[\u00e4\u00f6\u00fc\u00df\u0142]/g, function (c) { return foldMap[c] || c; });
    return s.normalize("NFD").replace(MARKS, "");
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
  function frontDecode(s) { // export.py front_code
    var words = [], prev = "", parts = s ? s.split("|") : [];
    for (var i = 0; i < parts.length; i++) {
      var e = parts[i];
      prev = prev.slice(0, DEC[e.charCodeAt(0)]) + e.slice(1);
      words.push(prev);
    }
    return words;
  }
  function lexicon(L) {
    var words = frontDecode(L.words), br = L.bridge || {}, forms = frontDecode(br.words), nums = unpack(br.to || ""), to = [];
    for (var i = 0, k = 0; i < forms.length; i++) { var n = nums[k++] + 1; to.push(nums.slice(k, k + n)); k += n; }
    return {
      words: words, wt: L.wt ? wordTerms(L.wt, words.length) : null, pop: L.pop ? unpack(L.pop) : null,
      wpop: L.wpop ? unpack(L.wpop) : null, syn: L.syn || {}, phrases: L.phrases || {}, bridge: [forms, to]
    };
  }
  // The vocabulary bridge (kbgen/search/bridge.py): the corpus words (indexes) a word the site lacks may mean.
  var ENDINGS = [["ies", "y"], ["es", ""], ["s", ""], ["ing", ""], ["ing", "e"], ["ed", ""], ["ed", "e"], ["d", ""]];
  function bridgeOf(word) {
    var forms = [word], b = S.lex.bridge, n = clen(word);
    ENDINGS.forEach(function (e) {
      if (word.slice(-e[0].length) === e[0] && n - e[0].length >= 3) forms.push(word.slice(0, -e[0].length) + e[1]);
    });
    for (var i = 0; i < forms.length; i++) {
      var lo = 0, hi = b[0].length;
      while (lo < hi) { var m = (lo + hi) >> 1; if (b[0][m] < forms[i]) lo = m + 1; else hi = m; }
      if (lo < b[0].length && b[0][lo] === forms[i]) return b[1][lo];
    }
    return [];
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
      post: {}, termWords: bundle ? null : {}, tokens: new Map(), tokTerms: new Map(), recs: {}, arts: {}, shards: {}, shardData: {}, termEntry: {}, docs: {}, tails: {}, tailData: {}, tailTerm: {}
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
    // kb-init.js may have started these fetches already (the search page opened with ?q=): take them,
    // or fetch again when they failed.
    var early = W.kbSearchEarly;
    W.kbSearchEarly = null;
    if (!early || early.href !== url.href) early = null;
    var again = function () { early = null; return fetchJSON(url.href); };
    loading = (early ? early.meta.catch(again) : fetchJSON(url.href)).then(function (meta) {
      var dir = new URL(".", url.href).href;
      foldMap = FOLD_BEFORE[meta.language] || null;
      S = { dir: dir };
      if (meta.bundle) return (early ? early.bundle : Promise.reject()).then(function (b) {
        return b || Promise.reject();
      }).catch(function () { return fetchJSON(dir + meta.bundle); }).then(function (b) { S = setup(meta, b); S.dir = dir; });
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
  function byLength() { // word indexes by length (in characters), and each word's letter mask; built once
    if (!S.byLen) {
      S.byLen = [];
      S.masks = new Int32Array(S.lex.words.length);
      S.lex.words.forEach(function (x, i) {
        var n = clen(x);
        (S.byLen[n] = S.byLen[n] || []).push(i);
        S.masks[i] = letterMask(x);
      });
    }
    return S.byLen;
  }
  // The set of characters of a word as 32 bits (a–z one each; the rest share bits). One edit changes at
  // most two bits of it, so words whose masks differ in more than 2 × budget bits are never typos.
  function letterMask(x) {
    var m = 0;
    for (var i = 0; i < x.length; i++) {
      var c = x.charCodeAt(i);
      m |= 1 << (c >= 97 && c <= 122 ? c - 97 : c >= 48 && c <= 57 ? 26 + (c - 48) % 5 : 31);
    }
    return m;
  }
  function bits(v) { v = v - ((v >>> 1) & 0x55555555); v = (v & 0x33333333) + ((v >>> 2) & 0x33333333); return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24; }
  function typos(word, budget, limit) {
    if (budget <= 0) return [];
    var w = S.lex.words, found = [], chars = Array.from(word), n = chars.length, bl = byLength();
    var ascii = chars.length === word.length, masks = S.masks, mask = letterMask(word), most = 2 * budget;
    for (var len = Math.max(1, n - budget); len <= n + budget; len++) {
      var idx = bl[len] || [];
      for (var j = 0; j < idx.length; j++) {
        var i = idx[j], x = w[i];
        if (bits(masks[i] ^ mask) > most || x === word) continue;
        var d = osa(ascii && x.length === len ? word : chars, ascii && x.length === len ? x : Array.from(x), budget);
        if (d <= budget) found.push([d, d === 1 && swapped(chars, Array.from(x)) ? 0 : 1, -wordPop(i), x, i]);
      }
    }
    // likeliest first: closest, a swap of neighbouring letters before other edits, commonest (lexicon.py)
    found.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || cmp(a[3], b[3]); });
    return found.slice(0, limit).map(function (f) { return [f[4], f[1] === 0 ? 0 : f[0]]; }); // 0: a swap
  }
  function swapped(a, b) { // b is a with two neighbouring letters swapped (lexicon.is_transposition)
    if (a.length !== b.length) return false;
    var diff = [];
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) { diff.push(i); if (diff.length > 2) return false; }
    return diff.length === 2 && diff[1] === diff[0] + 1 && a[diff[0]] === b[diff[1]] && a[diff[1]] === b[diff[0]];
  }
  function splitWord(word) { // an unknown word the corpus writes as two (lexicon.split_word): known halves
    var cs = Array.from(word), best = null, halves = null;
    for (var i = 2; i < cs.length - 1; i++) {
      var a = cs.slice(0, i).join(""), b = cs.slice(i).join(""), ia = find(a), ib = find(b), key, known;
      if (ia >= 0 && ib >= 0) { key = [2, Math.min(wordPop(ia), wordPop(ib)), -i]; known = [ia, ib]; }
      else if (ia >= 0 && S.stop.has(b) && i >= 3) { key = [1, wordPop(ia), -i]; known = [ia]; }
      else if (ib >= 0 && S.stop.has(a) && cs.length - i >= 3) { key = [1, wordPop(ib), -i]; known = [ib]; }
      else continue;
      if (best === null || key[0] > best[0] || (key[0] === best[0] && (key[1] > best[1] || (key[1] === best[1] && key[2] > best[2])))) {
        best = key; halves = known;
      }
    }
    return halves;
  }
  function budgetOf(word) { var n = clen(word); return n >= 8 ? 2 : n >= 4 ? 1 : 0; }

  function queryWords(text) {
    var out = [], toks = [], lastKept = false, m;
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(text))) {
      var w = fold(m[0].replace(/-/g, "")), n = clen(w);
      toks.push(w);
      lastKept = n >= 2 && n <= 40 && !S.stop.has(w);
      if (lastKept && out.indexOf(w) < 0) out.push(w);
      else if (lastKept) lastKept = false;
    }
    var last = text.slice(-1);
    TOKEN.lastIndex = 0;
    var typing = lastKept && text.length > 0 && !/\s/.test(last) && TOKEN.test(last);
    TOKEN.lastIndex = 0;
    return { words: out, typing: typing, toks: toks };
  }
  function plan(text, prefix, noTypos) { // which words each query word may match: decided from the lexicon alone
    var rk = S.rk, qw = queryWords(text), phrases = S.lex.phrases || {}, found = [];
    for (var i = 0; i + 1 < qw.toks.length; i++) { // two consecutive words, or three (lexicon.phrase_targets)
      var two = qw.toks[i] + " " + qw.toks[i + 1], keys = i + 2 < qw.toks.length ? [two, two + " " + qw.toks[i + 2]] : [two];
      keys.forEach(function (key) {
        if (Object.prototype.hasOwnProperty.call(phrases, key) && found.indexOf(key) < 0) found.push(key);
      });
    }
    var extra = found.map(function (key) {
      var target = phrases[key];
      return { word: key, target: target, exact: find(target), phrase: true, comps: [], roots: [], typos: [],
               syn: Object.prototype.hasOwnProperty.call(S.lex.syn, target) ? S.lex.syn[target] : [] };
    });
    var joinedOf = {}, seenJ = []; // two typed words written as one ("log in"): an alternative of both
    for (i = 0; i + 1 < qw.toks.length; i++) { // (lexicon.joined_words)
      var joined = qw.toks[i] + qw.toks[i + 1], jx = clen(joined) <= 40 ? find(joined) : -1;
      if (jx < 0 || seenJ.indexOf(joined) >= 0) continue;
      seenJ.push(joined);
      [qw.toks[i], qw.toks[i + 1]].forEach(function (w) { (joinedOf["~" + w] = joinedOf["~" + w] || []).push(jx); });
    }
    var question = qw.toks.length >= rk.questionWords, splits = [];
    return qw.words.map(function (word, pos) {
      var p = { word: word, exact: find(word), syn: [], comps: [], roots: [], typos: [], joined: joinedOf["~" + word] || [] };
      if (Object.prototype.hasOwnProperty.call(S.lex.syn, word)) p.syn = S.lex.syn[word];
      var isPrefix = prefix && qw.typing && pos === qw.words.length - 1 && !(question && p.exact >= 0);
      if (prefix && qw.typing && pos === qw.words.length - 1) p.half = true; // still being typed
      if (isPrefix && clen(word) >= rk.minPrefix) p.comps = completions(word, rk.maxExpansions);
      var known = p.exact >= 0 || p.syn.length || p.comps.length || p.joined.length;
      var typ = !known && !noTypos ? typos(word, budgetOf(word), rk.maxExpansions) : [];
      var near = typ.some(function (c) { return c[1] <= 1; });
      // typed as one word, written as two: both are query words, unless one edit from or the start of a word
      var bridged = !known ? bridgeOf(word) : []; // a word the site lacks that WordNet knows (bridge.py)
      var halves = !known && !near && !bridged.length && !completions(word, 1).length ? splitWord(word) : null;
      if (halves) halves.forEach(function (k) {
        splits.push({ word: S.lex.words[k], exact: k, syn: [], comps: [], roots: [], typos: [], split: true });
      });
      else if (!known) { // unknown: its root's words, and typos
        if (clen(word) >= 4) p.roots = completions(Array.from(word).slice(0, Math.max(4, clen(word) - 2)).join(""), rk.maxExpansions);
        p.typos = typ;
        p.near = near;
        p.bridge = bridged;
      }
      return p;
    }).concat(extra, splits);
  }
  function expand(plans) { // → [{word, alts: {term id: weight}, kind}], as lexicon.expand_query
    var rk = S.rk, out = [], seen = {}, fillers = new Set(S.meta.fillers || []);
    plans.forEach(function (p) {
      var alts = {}, kind = "none", share = 1;
      function add(t, w, k) { if ((alts[t] || 0) < w) { alts[t] = w; if (kind !== "exact") kind = k; } }
      if (p.phrase) {
        if (p.exact >= 0) termsOfIndex(p.exact).forEach(function (t) { alts[t] = rk.synonymWeight; });
        p.syn.forEach(function (t) { alts[t] = rk.synonymWeight; });
        if (!Object.keys(alts).length) return;
        kind = "phrase";
      } else if (p.exact >= 0) termsOfIndex(p.exact).forEach(function (t) { alts[t] = 1; kind = "exact"; });
      p.syn.forEach(function (t) { add(t, rk.synonymWeight, "synonym"); });
      (p.joined || []).forEach(function (k) { termsOfIndex(k).forEach(function (t) { add(t, 1, "joined"); }); });
      p.comps.forEach(function (k) { termsOfIndex(k).forEach(function (t) { add(t, rk.prefixWeight, "prefix"); }); });
      var rootW = p.near ? rk.rootNearTypoWeight : rk.rootWeight;
      p.roots.forEach(function (k) { termsOfIndex(k).forEach(function (t) { add(t, rootW, "root"); }); });
      p.typos.forEach(function (c) {
        var tw = c[1] === 0 ? rk.transposeWeight : rk.typoWeight[c[1]];
        termsOfIndex(c[0]).forEach(function (t) { add(t, tw, "typo"); });
      });
      (p.bridge || []).forEach(function (k) { termsOfIndex(k).forEach(function (t) { add(t, rk.bridgeWeight, "bridge"); }); });
      if (!p.phrase && !p.split && fillers.has(p.word)) {
        share = rk.fillerWeight;
        Object.keys(alts).forEach(function (t) { alts[t] = alts[t] * share; });
      }
      var key = Object.keys(alts).map(Number).sort(function (a, b) { return a - b; }).join(",");
      if (key && seen[key]) return;
      seen[key] = 1;
      out.push({ word: p.word, alts: alts, kind: kind, weight: share });
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
  // Scratch arrays, one slot per unit (allocated once): no maps on the hot path.
  function scratch() {
    if (!S.acc) {
      var n = S.unitArticle.length;
      S.acc = new Float64Array(n); S.cnt = new Float64Array(n); S.best = new Float64Array(n);
      S.alt = new Float64Array(n); S.fin = new Float64Array(n); S.seen = new Uint8Array(n);
      S.up = new Float64Array(n); S.cup = new Float64Array(n); S.mask = new Int32Array(n);
    }
  }
  function altScores(t, w, alt, list) { // alt[u] = score of alternative (term t, weight w); units → list
    var m = S.meta, rk = S.rk, i;
    if (S.sharded) {
      var p = shardTerm(t);
      if (p) for (i = 0; i < p[0].length; i++) { alt[p[0][i]] = p[1][i] * p[2] * w; list.push(p[0][i]); }
      if (p && p[3] >= 0 && S.tailData[p[3]]) {
        var tl = S.tailData[p[3]];
        for (i = 0; i < tl[0].length; i++) { alt[tl[0][i]] = tl[1][i] * p[2] * w; list.push(tl[0][i]); }
      }
      return;
    }
    termPostings(t).forEach(function (fp) {
      var f = m.fields[fp[0]], idf = Math.log(m.N / (fp[1] + 1)) + 1, boost = rk.boosts[f] * w;
      var B = rk.b[f], avg = m.avgfl[fp[0]], lens = S.lens[fp[0]], us = fp[2], tfs = fp[3];
      for (i = 0; i < us.length; i++) {
        var u = us[i];
        if (alt[u] === 0) list.push(u);
        alt[u] += bm25(idf, tfs[i], lens[u], avg, B, rk.k1) * boost;
      }
    });
  }
  function problemRe(k) { // kbgen/search/schema.py PROBLEM_PATTERNS: 0 query, 1 title
    var p = (S.rk.problem || {})[S.meta.language];
    return p ? new RegExp(p[k], "i") : null;
  }
  function isProblemQuery(text) {
    if (S.pq === undefined) S.pq = problemRe(0);
    return !!S.pq && S.pq.test(text);
  }
  function problem(a) { // the article's problem boost (for a query that describes a problem)
    if (!S.problemArt) {
      var n = S.sharded ? unpack(S.meta.articleRuns).length : S.articles.length, flags = new Uint8Array(n);
      if (S.sharded) { // runs of articles alternately without and with a troubleshooting title
        var runs = unpack(S.meta.problemRuns || ""), k = 0;
        for (var r = 0; r < runs.length; r++) for (var j = 0; j < runs[r]; j++) flags[k++] = r % 2;
      } else {
        var re = problemRe(1);
        if (re) for (var i = 0; i < n; i++) flags[i] = re.test(S.articles[i][0]) ? 1 : 0;
      }
      S.problemArt = flags;
    }
    return S.problemArt[a] ? S.rk.problemBoost : 1;
  }
  function prior(a) {
    if (S.sharded) return 1; // folded into the shard impacts
    var art = S.articles[a], rk = S.rk, mv = S.meta.maxViews, views = art[4];
    var pop = mv > 0 && views > 0 ? Math.log1p(views) / Math.log1p(mv) : 0;
    return (1 + rk.popularityWeight * pop) * (art[5] ? rk.promotedBoost : 1);
  }
  // → {groups: the `limit` best pages [{a, units: [[score, unit, article]] (≤ 5, best first)}], total: the
  // number of matching pages, terms, fetch}. Units rank by score, then unit number; pages by their best unit.
  // Sharded sites: a long term list is split into the shard's best units and a tail file; every unit the
  // tails leave out scores at most the tails' bounds. When a unit that could still reach the top `limit`
  // is not known exactly, `fetch` lists the tails to load (then rank again): the ranking is `kbgen search`'s.
  function rank(words, category, limit, trouble) {
    scratch();
    var acc = S.acc, cnt = S.cnt, best = S.best, alt = S.alt, fin = S.fin, seen = S.seen;
    var up = S.up, cup = S.cup, mask = S.mask;
    var n = 0, matched = {}, units = [], i, u, sumB = 0, wB = 0, incWords = [];
    words.forEach(function (qw) {
      var ts = Object.keys(qw.alts).map(Number).sort(function (a, b) { return a - b; });
      if (!ts.length) return;
      n += qw.weight;
      var inc = [], bit = {}; // the alternatives whose tail is not loaded, by bound (× weight), highest first
      if (S.sharded) ts.forEach(function (t) {
        var p = shardTerm(t);
        if (p && p[3] >= 0 && !S.tailData[p[3]]) inc.push([p[4] * p[2] * qw.alts[t], t, p[3]]);
      });
      inc.sort(function (x, y) { return y[0] - x[0] || x[1] - y[1]; });
      inc.forEach(function (x, k) { if (k < 30) bit[x[1]] = 1 << k; });
      if (inc.length) incWords.push([inc, qw.weight]);
      var mine = []; // the units this word reaches: best[u] = its best alternative's score
      ts.forEach(function (t) {
        var list = [], m = bit[t] || 0;
        altScores(t, qw.alts[t], alt, list);
        for (var k = 0; k < list.length; k++) {
          var x = list[k], s = alt[x];
          alt[x] = 0;
          if (best[x] === 0) mine.push(x);
          if (s > best[x]) best[x] = s;
          if (m) mask[x] |= m;
        }
      });
      var bmax = inc.length ? inc[0][0] : 0, lim = Math.min(inc.length, 30);
      for (i = 0; i < mine.length; i++) {
        u = mine[i];
        if (!seen[u]) { seen[u] = 1; units.push(u); }
        if (inc.length) { // this word's score of u is at most its best, or the bound of a tail that may hold u
          var bu = inc.length > 30 ? inc[30][0] : 0;
          for (var k = 0; k < lim; k++) if (!(mask[u] & (1 << k))) { bu = inc[k][0]; break; }
          up[u] += Math.max(best[u], bu) - bmax;
          mask[u] = 0;
        } else up[u] += best[u];
        if (bmax === 0) cup[u] += qw.weight;
        acc[u] += best[u]; cnt[u] += qw.weight; best[u] = 0;
      }
      sumB += bmax;
      if (bmax > 0) wB += qw.weight;
      ts.forEach(function (t) { matched[t] = 1; });
    });
    var cat = -1;
    if (category) S.meta.categories.forEach(function (c, i) { if (c[0] === category) cat = i; });
    var coord = function (c) { return c >= n ? 1 : Math.pow(c / n, S.rk.coordPower); };
    var pages = new Map(), top = [], unsure = []; // pages: article → its best unit; top: the `limit` best
    var worse = function (x, y) { return fin[x] < fin[y] || (fin[x] === fin[y] && x > y); };
    for (i = 0; i < units.length; i++) {
      u = units[i];
      var a = S.unitArticle[u], c = cnt[u], s = acc[u], hi = up[u] + sumB, chi = cup[u] + wB;
      acc[u] = 0; cnt[u] = 0; seen[u] = 0; up[u] = 0; cup[u] = 0;
      if (category && unitCat(u, a) !== cat) { fin[u] = -1; continue; }
      var f = prior(a) * (trouble ? problem(a) : 1);
      fin[u] = s * coord(c) * f;
      if (sumB > 0) { hi = hi * coord(chi) * f; if (hi > fin[u] * (1 + 1e-9)) unsure.push([u, hi]); }
      var b = pages.get(a);
      if (b === undefined || worse(b, u)) pages.set(a, u);
    }
    pages.forEach(function (u) {
      if (top.length >= limit && !worse(top[top.length - 1], u)) return;
      var lo = 0, hi = top.length;
      while (lo < hi) { var m = (lo + hi) >> 1; if (worse(top[m], u)) hi = m; else lo = m + 1; }
      top.splice(lo, 0, u);
      if (top.length > limit) top.pop();
    });
    var fetch = [];
    if (sumB > 0) { // is the top `limit` certain? Else the tails that could change it (then rank again)
      var floor = top.length >= limit ? fin[top[limit - 1]] : 0, pb = trouble ? Math.max(1, S.rk.problemBoost) : 1;
      var want = function (x) { if (fetch.indexOf(x[2]) < 0) fetch.push(x[2]); };
      // a unit in no kept list could reach the top: the largest bounds' tails until it could not
      var rest = incWords.map(function (w) { return [w[0].slice(), w[1]]; });
      for (;;) {
        var sb = 0, wb = 0, big = null;
        rest.forEach(function (w) {
          if (!w[0].length) return;
          sb += w[0][0][0]; wb += w[1];
          if (!big || w[0][0][0] > big[0][0][0]) big = w;
        });
        if (!big || sb * coord(wb) * pb < floor) break;
        want(big[0].shift());
      }
      // a unit that could reach the top but is not known exactly: the tails that may hold it
      var open = unsure.filter(function (x) { return x[1] >= floor; });
      if (open.length > 200) incWords.forEach(function (w) { w[0].forEach(want); });
      else if (open.length) incWords.forEach(function (w) {
        w[0].forEach(function (x) {
          if (fetch.indexOf(x[2]) >= 0) return;
          var p = shardTerm(x[1]), head = p._set || (p._set = new Set(p[0]));
          for (var k = 0; k < open.length; k++) if (!head.has(open[k][0])) { want(x); return; }
        });
      });
    }
    var groups = [], byArt = new Map();
    top.forEach(function (u) { var g = { a: S.unitArticle[u], units: [] }; byArt.set(g.a, g); groups.push(g); });
    for (i = 0; i < units.length; i++) {
      u = units[i];
      var g = fin[u] >= 0 && byArt.get(S.unitArticle[u]);
      if (g) g.units.push([fin[u], u, g.a]);
    }
    groups.forEach(function (g) {
      g.units.sort(function (x, y) { return y[0] - x[0] || x[1] - y[1]; });
      if (g.units.length > 5) g.units.length = 5;
    });
    return { groups: groups, total: pages.size, terms: matched, fetch: fetch };
  }
  function unitCat(u, a) {
    if (S.articles) return S.articles[a][2];
    if (!S.unitCat) { // sharded: from the category runs of meta.json
      var runs = unpack(S.meta.categoryRuns || ""), uc = [];
      for (var i = 0; i < runs.length; i += 2) for (var k = 0; k < runs[i + 1]; k++) uc.push(runs[i] - 1);
      S.unitCat = uc;
    }
    return S.unitCat[u];
  }

  // ---- sharded layout: postings and display data loaded on demand -----------------------------
  function shardOf(str) { // the shard whose range holds this word (or synonym form): meta.shards[i] <= str
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
      out = [us, qs, e[0], e.length > 2 ? e[2] : -1, e.length > 2 ? e[3] : 0]; // units, impacts, scale, tail, bound
      if (out[3] >= 0) S.tailTerm[out[3]] = t;
    }
    return (S.post[t] = out);
  }
  // The shards a query needs. `typing` (as-you-type, between keystrokes): the word still being typed uses
  // the shards already loaded that hold one of its alternatives, or else (from its third letter) loads the one
  // shard that holds them all, or — when it is the only word — the shard of its likeliest alternative (the
  // word, its commonest completion, its closest typo). True when an alternative was left out (the answer is
  // then `partial`: search.js asks again when typing pauses).
  function need(plans, typing) {
    if (!S.sharded) return Promise.resolve(false);
    var want = {}, w = S.lex.words, partial = false;
    plans.forEach(function (p) {
      var mine = [];
      if (p.exact >= 0 || p.syn.length) mine.push(shardOf(p.phrase ? p.target : p.word));
      p.comps.concat(p.roots, p.joined || [], p.bridge || []).forEach(function (k) { mine.push(shardOf(w[k])); });
      p.typos.forEach(function (c) { mine.push(shardOf(w[c[0]])); });
      if (typing && p.half && mine.length) {
        var have = mine.filter(function (i) { return S.shardData[i]; }), one = mine.every(function (i) { return i === mine[0]; });
        if (have.length < mine.length && !(one && !have.length && clen(p.word) >= 3)) partial = true;
        // Nothing loaded for it yet: from its third letter, its shard once all its alternatives are in one (a
        // longer prefix stays in it); a guess (the likeliest alternative's) only when it is the only word.
        mine = have.length ? have : clen(p.word) < 3 || (!one && plans.length > 1) ? [] : [mine[0]];
      }
      mine.forEach(function (i) { want[i] = 1; });
    });
    return Promise.all(Object.keys(want).map(getShard)).then(function () { return partial; });
  }
  function getShard(i) {
    if (S.shards[i]) return S.shards[i];
    return (S.shards[i] = fetchJSON(S.dir + "shard." + S.meta.shardSet + "." + i + ".json").then(function (d) {
      Object.keys(d.terms).forEach(function (t) { if (!S.termEntry[t]) S.termEntry[t] = d.terms[t]; });
      Object.keys(d.recs).forEach(function (u) { if (!S.recs[u]) S.recs[u] = d.recs[u]; });
      Object.keys(d.articles).forEach(function (a) { S.arts[a] = artRow(d.articles[a]); });
      S.shardData[i] = d;
      d._wt = wordTerms(d.wt, d.words[1] - d.words[0]);
      d._wt.forEach(function (ts, k) { // reverse map term → surface words, for matchedTerms
        ts.forEach(function (t) { (S.termWords[t] = S.termWords[t] || []).push(S.lex.words[d.words[0] + k]); });
      });
      return d;
    }));
  }
  function getDocs(i) {
    if (S.docs[i]) return S.docs[i];
    return (S.docs[i] = fetchJSON(S.dir + "docs." + S.meta.docsSet + "." + i + ".json").then(function (d) {
      d.units.forEach(function (r, k) { S.recs[d.lo + k] = r; S.recs[d.lo + k].full = 1; });
      Object.keys(d.articles).forEach(function (a) { S.arts[a] = artRow(d.articles[a]); });
      return (S.docs[i] = d);
    }));
  }
  function getTail(i) { // the rest of a long term list (export.py make_tail)
    if (S.tails[i]) return S.tails[i];
    return (S.tails[i] = fetchJSON(S.dir + "tail." + S.meta.tailSet + "." + i + ".json").then(function (d) {
      var nums = unpack(d), us = [], qs = [], u = -1;
      for (var k = 0; k < nums.length; k += 2) { u += nums[k] + 1; us.push(u); qs.push(nums[k + 1]); }
      S.tailData[i] = [us, qs];
    }));
  }
  function artRow(r) { // sharded rows: [title, URL parent index, URL rest, category, type]
    return [r[0], S.meta.urlParents[r[1]] + r[2], r[3], r[4]];
  }
  function unitRec(u) { return S.sharded ? S.recs[u] : S.units[u]; }
  function articleRec(a) { return S.sharded ? S.arts[a] : S.articles[a]; }

  // ---- snippets: plain text + [start, end) offsets of the words whose term matched ---------------
  function tokens(text) { // [start, end, lower-cased token] of a text, kept (texts come from the index)
    var toks = S.tokens.get(text), m;
    if (toks) return toks;
    toks = [];
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(text))) toks.push([m.index, m.index + m[0].length, m[0].toLowerCase()]);
    TOKEN.lastIndex = 0;
    if (S.tokens.size > 5000) S.tokens.clear();
    S.tokens.set(text, toks);
    return toks;
  }
  function tokenTerms(tok) { // the term ids of a text token (its hyphen-less form and its parts)
    var ts = S.tokTerms.get(tok);
    if (ts) return ts;
    var forms = [tok.replace(/-/g, "")].concat(/[.\-]/.test(tok) ? tok.split(/[.\-]/) : []), stable = true;
    ts = [];
    for (var i = 0; i < forms.length; i++) {
      var f = fold(forms[i]), k = find(f);
      if (k < 0) continue;
      if (S.sharded && !S.shardData[shardOf(f)]) stable = false; // its terms are not known yet
      ts = ts.concat(termsOfIndex(k));
    }
    if (stable) S.tokTerms.set(tok, ts);
    return ts;
  }
  function highlights(text, terms, memo) { // memo: token → matched? (shared by one answer's snippets)
    var out = [], toks = tokens(text);
    memo = memo || new Map();
    for (var j = 0; j < toks.length; j++) {
      var tok = toks[j][2], hit = memo.get(tok);
      if (hit === undefined) {
        var ts = tokenTerms(tok);
        hit = false;
        for (var k = 0; k < ts.length; k++) if (terms[ts[k]]) { hit = true; break; }
        memo.set(tok, hit);
      }
      if (hit) out.push([toks[j][0], toks[j][1]]);
    }
    return out;
  }
  function snippet(text, terms, memo) {
    var size = 180, hs = highlights(text, terms, memo);
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
    if (!S.sharded) {
      if (!S.termWords) { // reverse map, built once
        S.termWords = {};
        S.lex.wt.forEach(function (ts, i) { ts.forEach(function (t) { (S.termWords[t] = S.termWords[t] || []).push(w[i]); }); });
      }
      Object.keys(terms).forEach(function (t) {
        (S.termWords[t] || []).forEach(function (x) { if (out.length < 20 && out.indexOf(x) < 0) out.push(x); });
      });
    } else Object.keys(terms).forEach(function (t) {
      (S.termWords[t] || []).forEach(function (x) { if (out.length < 20 && out.indexOf(x) < 0) out.push(x); });
    });
    return out;
  }

  // ---- query ---------------------------------------------------------------------------------
  function query(q, opts) {
    opts = opts || {};
    var limit = opts.limit || 10, text = String(q || "");
    return load(opts.metaHref).then(function () {
      return bridgeFile(text, !!opts.typing);
    }).then(function (later) {
      var plans = plan(text, opts.prefix !== false, opts.typos === false), typing = !!opts.typing;
      return need(plans, typing).then(function (partial) {
        partial = partial || later;
        var words = expand(plans), trouble = isProblemQuery(text);
        var attempt = function () {
          var r = rank(words, opts.category, limit, trouble);
          if (r.fetch.length && typing) partial = true; // as-you-type: no tails between keystrokes
          else if (r.fetch.length) return Promise.all(r.fetch.map(getTail)).then(attempt);
          return display(r.groups, typing).then(function (left) {
            var a = answer(text, words, r, r.groups, r.total, limit, typing, plans);
            // typing: the text ends inside a word ("refn", "forgot m"), or no word is a search word yet
            if (typing) { a.partial = partial || left; a.typing = !plans.length || /[\p{L}\p{N}_]$/u.test(text); }
            return a;
          });
        };
        return attempt();
      });
    });
  }
  // Sharded sites: the vocabulary bridge (meta.bridge) is fetched once a query has a word the lexicon lacks
  // (bridge.py: only such words are bridged). Typing: not between keystrokes (true: the answer is partial).
  function bridgeFile(text, typing) {
    if (!S.sharded || !S.meta.bridge || S.bridgeLoaded) return Promise.resolve(false);
    var unknown = queryWords(text).words.some(function (w) {
      return find(w) < 0 && !Object.prototype.hasOwnProperty.call(S.lex.syn, w);
    });
    if (!unknown) return Promise.resolve(false);
    if (typing) return Promise.resolve(true);
    return fetchJSON(S.dir + S.meta.bridge).then(function (b) {
      S.lex.bridge = lexicon({ bridge: b }).bridge; S.bridgeLoaded = true; return false;
    });
  }
  // Display data of the pages shown. `typing`: only the first page's when no page shown has it yet (the
  // others wait for the pause); resolves to true when a page was left without (answer() leaves it out).
  function display(groups, typing) {
    if (!S.sharded) return Promise.resolve(false);
    var want = [], shown = 0;
    groups.slice(0, 50).forEach(function (g) { // the search page asks for many: display data for 50 at most
      var x = g.units[0], k = Math.floor(x[1] / S.meta.docsPer);
      if (!S.recs[x[1]] || !S.arts[x[2]]) { if (want.indexOf(k) < 0) want.push(k); } else shown++;
    });
    var left = typing && want.length > 0 && (shown > 0 || want.length > 1);
    if (typing) want = shown ? [] : want.slice(0, 1);
    return Promise.all(want.map(getDocs)).then(function () { return left; });
  }
  function corrections(text, plans, terms) { // the typed words that matched only through a typo alternative
    var used = {}, pairs = [];
    plans.forEach(function (p) {
      if (p.phrase || p.split || !p.typos || !p.typos.length || used["~" + p.word]) return;
      var hit = p.typos.filter(function (c) { return termsOfIndex(c[0]).some(function (t) { return terms[t]; }); });
      if (!hit.length) return;
      hit.sort(function (x, y) { return x[1] - y[1]; });
      used["~" + p.word] = S.lex.words[hit[0][0]];
      pairs.push([p.word, used["~" + p.word]]);
    });
    if (!pairs.length) return undefined;
    var fixed = text.replace(TOKEN, function (m) { return used["~" + fold(m.replace(/-/g, ""))] || m; });
    TOKEN.lastIndex = 0;
    return { query: fixed.trim().replace(/\s+/g, " "), words: pairs };
  }
  function answer(text, words, r, groups, total, limit, typing, plans) {
    var cats = S.meta.categories, results = [], memo = new Map(), mw = matchedWords(r.terms);
    var grouped = groups.map(function (g) {
      var art = articleRec(g.a) || ["", "", -1, "article"], cat = cats[art[2]] || ["", ""];
      var units = g.units.filter(function (x) { return unitRec(x[1]); }).map(function (x) {
        var u = unitRec(x[1]), title = u[2] ? art[0] + " › " + u[2] : art[0];
        var sn = snippet(u[3] || "", r.terms, memo);
        return {
          title: title, pageTitle: art[0], heading: u[2] || "", url: art[1], anchor: u[1] || "",
          href: base + art[1].replace(/^\//, "") + (u[1] ? "#" + u[1] : ""),
          category: cat[1], categorySlug: cat[0], type: art[3], score: x[0],
          snippet: sn.text, highlights: sn.hl, titleHighlights: highlights(title, r.terms, memo),
          matchedTerms: mw
        };
      });
      var best = units[0] || {};
      return {
        title: art[0], url: art[1], href: base + art[1].replace(/^\//, ""), category: cat[1], categorySlug: cat[0],
        type: art[3], score: best.score, snippet: best.snippet, highlights: best.highlights,
        titleHighlights: highlights(art[0], r.terms, memo), units: units
      };
    }).filter(function (g) { return g.units.length && (!typing || g.url); }); // typing: no page without its data
    grouped.forEach(function (g) { if (results.length < limit) results.push(g.units[0]); });
    var ans = {
      query: text, terms: words.map(function (w) { return w.word; }),
      results: results, grouped: grouped, total: total
    };
    if (!grouped.length) { var d = didYouMean(text); if (d) ans.didYouMean = d; }
    else { var fix = corrections(text, plans || [], r.terms); if (fix) ans.corrected = fix; }
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
    load: load, query: query, suggest: suggest, categories: categories
  };
})();
