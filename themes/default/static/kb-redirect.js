/* kbgen redirect page (an article's old address): go to the new one, keeping the #fragment. The
 * <meta http-equiv="refresh"> does the same without script, but loses the fragment. */
(() => {
  const to = document.body.dataset.kbRedirect;
  if (!to) return;
  let u;
  try { u = new URL(to, location.href); } catch (e) { return; }
  if (u.protocol === 'https:' || u.protocol === 'http:') location.replace(u.href + location.hash);
})();
