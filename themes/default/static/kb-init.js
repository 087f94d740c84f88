/* kbgen default theme, loaded in <head> before first paint (a file, not inline code, so that the theme
 * works under a strict Content-Security-Policy): marks the page as scripted and applies the stored
 * light/dark choice. On the search page opened with ?q= (its <script data-kb-index> names meta.json), it
 * starts fetching the search index at once, before the stylesheet and the deferred scripts: meta.json, then
 * the bundle it names, as window.kbSearchEarly = { href, meta, bundle } (promises of parsed JSON), which
 * search-core.js's load() takes instead of fetching them again. */
(d => {
  d.classList.add('js');
  const q = /[?&]q=[^&]/.test(location.search), ix = document.currentScript?.dataset.kbIndex;
  if (q) d.classList.add('kb-q'); // results on their way: space kept for them
  if (q && ix && window.fetch) {
    const href = new URL(ix, location.href).href, get = u => fetch(u).then(r => {
      if (!r.ok) throw Error(r.status + ' ' + u);
      return r.json();
    });
    const meta = get(href), bundle = meta.then(m => m.bundle ? get(new URL(m.bundle, href).href) : null);
    bundle.catch(() => {}); // search-core.js reports a failure when it asks for the index
    window.kbSearchEarly = { href, meta, bundle };
  }
  try {
    const t = localStorage.getItem('kb-theme');
    if (t === 'dark' || t === 'light') d.setAttribute('data-theme', t);
  } catch (e) { /* private mode */ }
})(document.documentElement);
