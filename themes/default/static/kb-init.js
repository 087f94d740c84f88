/* kbgen default theme, loaded in <head> before first paint (a file, not inline code, so that the theme
 * works under a strict Content-Security-Policy): marks the page as scripted and applies the stored
 * light/dark choice. */
(d => {
  d.classList.add('js');
  if (/[?&]q=[^&]/.test(location.search)) d.classList.add('kb-q'); // results on their way: space kept for them
  try {
    const t = localStorage.getItem('kb-theme');
    if (t === 'dark' || t === 'light') d.setAttribute('data-theme', t);
  } catch (e) { /* private mode */ }
})(document.documentElement);
