/* kbgen analytics: kb.track(name, props) → event (kbgen/analytics/events.py) → DOM 'kb:event' + providers
 * (GPC/DNT: none if respect_dnt). No cookies. */
(() => {
  const W = window, d = document, b = d.body, n = navigator, ds = b.dataset;
  let C = {};
  try { C = JSON.parse(d.getElementById('kb-analytics-config').textContent) || {}; } catch (e) {}
  const off = !!(C.respect_dnt && (n.globalPrivacyControl || n.doNotTrack == '1' || W.doNotTrack == '1'));
  const F = {
    page_view: [],
    search: ['query', 'results'],
    search_no_results: ['query', 'results'],
    search_click: ['query', 'url', 'rank'],
    feedback: ['url', 'helpful', 'query'],
    feedback_reason: ['url', 'reason', 'comment'],
    contact_click: ['url', 'channel', 'query'],
    video_play: ['url', 'video', 'provider'],
    widget_open: [],
    widget_answer: ['url', 'rank']
  };
  const base = (ds.kbBase || '/').replace(/\/?$/, '/');
  const path = location.pathname.indexOf(base) ? location.pathname : '/' + location.pathname.slice(base.length);
  const N = /\+?(?:\d[\s.-]?){4,}\d/g;
  const clean = (q, m) => String(q).replace(/[\x00-\x1f\x7f]/g, ' ').replace(/[^\s@]+@[^\s@]+/g, '[email]')
    .replace(N, '[number]').replace(/\s+/g, ' ').trim().slice(0, m || 100);
  const scrub = p => {
    let t = p;
    try { t = decodeURIComponent(p); } catch (e) {}
    const s = t.replace(/[^\s@/]+@[^\s@/]+/g, '[email]').replace(N, '[number]');
    return s == t ? p : s;
  };
  const is404 = b.classList.contains('kb-kind-404');
  const page = is404 ? scrub(path) : ds.kbUrl || path;
  const bare = (u, t) => { try { u = new URL(u); return u.origin + (t ? scrub(u.pathname) : u.pathname); } catch (e) { return ''; } };
  const loc = bare(location.href, is404), ref = bare(d.referrer, 1);

  const P = C.plausible, G = C.ga4, M = C.matomo, U = C.umami, B = C.beacon;
  if (!off) {
    if (P) {
      const p = W.plausible = W.plausible || function () { (p.q = p.q || []).push(arguments); };
      if (P.init) { p.init = p.init || (o => { p.o = o || {}; }); p.init({ autoCapturePageviews: false }); }
      if (P.manual) p('pageview', { u: loc, url: loc });
    }
    if (G) {
      W.dataLayer = W.dataLayer || [];
      W.gtag = W.gtag || function () { W.dataLayer.push(arguments); };
      W.gtag('js', new Date());
      W.gtag('set', { page_location: loc, page_referrer: ref });
      W.gtag('config', G.id, ds.kbCategory ? { content_group: ds.kbCategory } : {});
    }
    if (M) (W._paq = W._paq || []).push(['setTrackerUrl', M.url + 'matomo.php'], ['setSiteId', M.site],
      ['setCustomUrl', loc], ['setReferrerUrl', ref], ['trackPageView'], ['enableLinkTracking']);
    const t = d.getElementById('kb-analytics-loaders');
    if (t) t.content.querySelectorAll('script').forEach(s => {
      const e = d.createElement('script');
      for (const a of s.attributes) e.setAttribute(a.name, a.value);
      b.appendChild(e);
    });
  }

  const umami = (name, data, i) => W.umami
    ? W.umami.track(p => Object.assign(p, { url: loc, referrer: ref }, name && { name, data }))
    : i < 20 && setTimeout(() => umami(name, data, i + 1), 500);
  if (U && !off) umami('', null, 0);

  const send = ev => {
    const { name, comment, ...props } = ev; // comment: to the beacon only
    if (B) try { n.sendBeacon(B.url, JSON.stringify(ev)); } catch (e) {}
    if (name == 'page_view') return;
    if (P) W.plausible(name, { props, u: loc, url: loc });
    if (G) W.gtag('event', name == 'search' ? 'view_search_results' : name, name == 'search' ? Object.assign({ search_term: ev.query }, props) : props);
    if (M) {
      if (name == 'search') W._paq.push(['trackSiteSearch', ev.query, false, ev.results]);
      else if (name != 'search_no_results') {
        W._paq.push(['trackEvent', name, ev.helpful || ev.reason || ev.channel || ev.query || ev.video || name, ev.url || page, ev.rank]);
      }
    }
    if (U) umami(name, props, 0);
  };

  const track = (name, props) => {
    const fields = F[name];
    if (!fields) return;
    props = props || {};
    const ev = { name, page };
    if (ds.kbId) ev.id = ds.kbId;
    if (ds.kbCategory) ev.category = ds.kbCategory;
    if (ds.kbType) ev.type = ds.kbType;
    if (d.documentElement.lang) ev.lang = d.documentElement.lang;
    if (ds.kbSource) ev.source = ds.kbSource, ev.host = ds.kbHost, ev.visit = ds.kbVisit;
    for (const k of fields) {
      let v = props[k];
      if (k == 'url' && v == null) v = page;
      if (v == null || v === '') continue;
      ev[k] = k == 'query' || k == 'comment' ? clean(v, k < 'q' && 300) : k == 'results' || k == 'rank' ? +v : String(v);
    }
    if (name.startsWith('search') && !ev.query) return;
    d.dispatchEvent(new CustomEvent('kb:event', { detail: ev }));
    if (!off) send(ev);
  };

  (W.kb = W.kb || {}).track = track;

  let voted = false;
  d.addEventListener('click', e => {
    const t = e.target.closest && e.target.closest('[data-kb-feedback],[data-kb-contact]');
    if (!t) return;
    const f = t.dataset.kbFeedback, u = new URLSearchParams(location.search), query = u.get('sq') || u.get('q');
    if (f == null) track('contact_click', { channel: t.dataset.kbContact, query });
    else if (!voted) { voted = true; track('feedback', { helpful: f, query }); }
  }, true);

  if (!ds.kbSource) track('page_view'), W.addEventListener('pageshow', e => e.persisted && track('page_view'));
})();
