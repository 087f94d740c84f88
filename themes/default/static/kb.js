/* kbgen default theme: dark-mode toggle, FAQ deep links + expand all, feedback thank-you and reasons, video facades,
 * image zoom, on-page TOC highlight, print. Everything works without it; analytics.js records clicks on
 * [data-kb-feedback]/[data-kb-contact] itself, this file only reports video_play and feedback_reason. */
(() => {
  const d = document, W = window, root = d.documentElement;
  const $$ = (s, r = d) => [...r.querySelectorAll(s)];
  const track = (n, p) => { try { W.kb?.track?.(n, p); } catch (e) { /* analytics must never break the page */ } };

  // Dark mode: <head> applied the stored choice before first paint; without one the system scheme rules.
  const mq = W.matchMedia('(prefers-color-scheme: dark)');
  const dark = () => (root.dataset.theme || (mq.matches ? 'dark' : 'light')) === 'dark';
  const toggles = $$('[data-kb-theme-toggle]');
  const sync = () => toggles.forEach(b => b.setAttribute('aria-pressed', dark()));
  toggles.forEach(b => b.addEventListener('click', () => {
    const t = dark() ? 'light' : 'dark';
    root.dataset.theme = t;
    try { localStorage.setItem('kb-theme', t); } catch (e) { /* private mode */ }
    sync();
  }));
  // "Use system theme": forget the stored choice (shown by CSS only while one is stored).
  $$('[data-kb-theme-system]').forEach(b => b.addEventListener('click', () => {
    delete root.dataset.theme;
    try { localStorage.removeItem('kb-theme'); } catch (e) { /* private mode */ }
    sync();
  }));
  mq.addEventListener?.('change', sync);
  sync();

  // The search box keeps the query it was opened with; "/" focuses search (not while typing elsewhere).
  const boxes = $$('[data-kb-search-input]');
  const q = new URLSearchParams(location.search).get('q');
  if (q) boxes.forEach(i => { if (!i.value) i.value = q.slice(0, 200); });
  d.addEventListener('keydown', e => {
    const a = d.activeElement;
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || (a && (a.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName)))) return;
    const box = boxes.find(i => i.offsetParent);
    if (box) { e.preventDefault(); box.focus(); box.select(); }
  });

  // Contact block: "Open now" / "Closed now" from data-kb-hours ("weekday start end;…": Monday = 0, minutes
  // since midnight) at this moment in data-kb-tz; an announcement past its data-kb-expires day goes.
  $$('[data-kb-hours]').forEach(b => {
    try {
      const p = {};
      new Intl.DateTimeFormat('en-US', { timeZone: b.dataset.kbTz, weekday: 'short', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' })
        .formatToParts(new Date()).forEach(x => { p[x.type] = x.value; });
      const day = 'MonTueWedThuFriSatSun'.indexOf(p.weekday) / 3, m = p.hour * 60 + +p.minute;
      const open = b.dataset.kbHours.split(';').some(r => { const [x, s, e] = r.split(' ').map(Number); return x === day && m >= s && m < e; });
      b.textContent = open ? b.dataset.open : b.dataset.closed;
      b.classList.toggle('is-open', open);
      b.hidden = false;
    } catch (e) { /* an unknown time zone: no badge */ }
  });
  $$('[data-kb-expires]').forEach(a => { if (new Date().toISOString().slice(0, 10) > a.dataset.kbExpires) a.remove(); });

  // FAQ: #anchor opens its <details> (and any enclosing ones) and scrolls it into view.
  const openHash = () => {
    let el;
    try { el = location.hash.length > 1 && d.getElementById(decodeURIComponent(location.hash.slice(1))); } catch (e) { return; }
    if (!el || !el.closest('details')) return;
    for (let p = el.closest('details'); p; p = p.parentElement.closest('details')) p.open = true;
    el.scrollIntoView({ block: 'start' });
  };
  W.addEventListener('hashchange', openHash);
  openHash();

  $$('[data-kb-faq-toggle]').forEach(b => {
    const items = $$('details', b.parentElement.nextElementSibling || d);
    const upd = () => {
      const all = items.every(x => x.open);
      b.setAttribute('aria-expanded', all);
      b.textContent = b.dataset[all ? 'collapse' : 'expand'];
    };
    b.addEventListener('click', () => {
      const open = !items.every(x => x.open);
      items.forEach(x => { x.open = open; });
      upd();
    });
    items.forEach(x => x.addEventListener('toggle', upd));
    upd();
  });

  // The reason and the optional text: one feedback_reason event (analytics.js cleans the text); focus
  // goes to the thank-you that replaces the form.
  d.addEventListener('submit', e => {
    const f = e.target.closest('[data-kb-feedback-why]');
    if (!f) return;
    e.preventDefault();
    track('feedback_reason', { reason: f.elements.reason.value, comment: f.elements.comment.value });
    const msg = f.parentElement.querySelector('[data-kb-feedback-thanks]');
    f.hidden = true;
    if (msg) { msg.textContent = msg.dataset.sent; msg.focus(); }
  });

  d.addEventListener('click', e => {
    const t = e.target.closest ? e.target : e.target.parentElement;
    // "Was this helpful?": swap the buttons for a thank-you (the vote itself is sent by analytics.js).
    const fb = t.closest('[data-kb-feedback]');
    if (fb) {
      const box = fb.closest('[data-kb-feedback-box]') || fb.parentElement;
      const msg = box.querySelector('[data-kb-feedback-thanks]');
      if (msg) msg.textContent = msg.dataset[fb.dataset.kbFeedback] || msg.dataset.yes;
      box.classList.add('is-done');
      // After No: "What was missing?" (the No itself is sent already); focus on its first choice.
      const why = box.querySelector('[data-kb-feedback-why]');
      if (why && fb.dataset.kbFeedback == 'no') { why.hidden = false; why.querySelector('input').focus(); }
      return;
    }
    // Video facade → iframe (autoplay) on click.
    const v = t.closest('[data-kb-video]');
    if (v && v.dataset.src) {
      const f = d.createElement('iframe'), src = v.dataset.src;
      f.src = src + (src.includes('?') ? '&' : '?') + 'autoplay=1';
      f.title = v.closest('figure')?.querySelector('figcaption')?.textContent || v.getAttribute('aria-label') || 'Video';
      f.allow = 'autoplay; encrypted-media; picture-in-picture; fullscreen';
      f.allowFullscreen = true;
      v.replaceWith(f);
      f.focus();
      track('video_play', { video: src, provider: v.dataset.kbVideo });
      return;
    }
    // Click-to-zoom for article images (not linked ones); a click or Esc closes.
    const img = t.closest('.kb-prose img');
    if (img && !img.closest('a,button')) {
      const o = d.createElement('div'), c = img.cloneNode();
      o.className = 'kb-zoom';
      o.tabIndex = -1;
      o.setAttribute('role', 'dialog');
      o.setAttribute('aria-modal', 'true');
      o.setAttribute('aria-label', img.alt || '');
      c.removeAttribute('loading');
      o.append(c);
      const close = () => { o.remove(); d.removeEventListener('keydown', key); };
      const key = k => { if (k.key === 'Escape') close(); };
      o.addEventListener('click', close);
      d.addEventListener('keydown', key);
      d.body.append(o);
      o.focus();
    }
  });

  // On-page TOC: mark the section being read.
  const links = $$('.kb-toc a[href^="#"]');
  if (links.length && W.IntersectionObserver) {
    const by = new Map();
    links.forEach(a => { const h = d.getElementById(decodeURIComponent(a.hash.slice(1))); if (h) by.set(h, a); });
    const io = new IntersectionObserver(es => es.forEach(en => {
      if (!en.isIntersecting) return;
      links.forEach(a => a.removeAttribute('aria-current'));
      by.get(en.target).setAttribute('aria-current', 'true');
    }), { rootMargin: '0px 0px -70% 0px' });
    by.forEach((a, h) => io.observe(h));
  }

  // Print every answer.
  let closed = [];
  W.addEventListener('beforeprint', () => { closed = $$('details:not([open])'); closed.forEach(x => { x.open = true; }); });
  W.addEventListener('afterprint', () => closed.forEach(x => { x.open = false; }));
})();
