#!/usr/bin/env bash
# Lighthouse (mobile configuration) on the sample site's home, a category, an article, an FAQ, the search page and the French home, served on
# 127.0.0.1, with Debian's Chromium. Run by hand: bash bench/lighthouse.sh  (writes bench/_work/lighthouse/)
# RUNS=3 bash bench/lighthouse.sh  runs each page 3 times and prints the median of each score (and of TBT).
# Served by bench/static_server.py with gzip and Cache-Control, as a host does; SERVE=plain: no compression,
# as `python -m http.server` (this script's server before 2026-12-08).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && py=$PWD/.venv/bin/python
runs=${RUNS:-1}
read -r -a PAGES <<< "${LH_PAGES:-/ /orders/ /orders/tracking/track-your-order/ /returns-refunds/returns/returns-faq/ /search/?q=refund /fr/}"
work=bench/_work/lighthouse
mkdir -p "$work"
if [ ! -x "$work/node_modules/.bin/lighthouse" ]; then
  npm install --silent --prefix "$work" lighthouse >/dev/null
fi
rm -rf "$work/project" && mkdir -p "$work/project"
cp -r content kbgen.toml "$work/project/"
(cd "$work/project" && "$py" -m kbgen build >/dev/null)
port=8765
# gzip and Cache-Control as the hosts `kbgen deploy` configures; SERVE=plain: as `python -m http.server`
"$py" bench/static_server.py "$work/project/site" "$port" ${SERVE:+--$SERVE} >/dev/null 2>&1 &
server=$!
trap 'kill $server' EXIT
sleep 1
export CHROME_PATH=/usr/bin/chromium
echo "| page | performance | accessibility | best practices | SEO | TBT ms | runs |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for path in "${PAGES[@]}"; do
  outs=()
  for i in $(seq "$runs"); do
    out="$work/report-$(echo "$path" | tr '/' '_')-$i.json"
    "$work/node_modules/.bin/lighthouse" "http://127.0.0.1:$port$path" --quiet --output=json --output-path="$out" \
      --chrome-flags="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update" >/dev/null 2>&1
    outs+=("$out")
  done
  "$py" - "$path" "${outs[@]}" <<'PY'
import json, statistics, sys
reports = [json.load(open(f)) for f in sys.argv[2:]]
med = lambda xs: statistics.median(xs)
s = [med([round(r["categories"][k]["score"] * 100) for r in reports])
     for k in ("performance", "accessibility", "best-practices", "seo")]
tbt = med([r["audits"]["total-blocking-time"]["numericValue"] for r in reports])
per_run = "/".join(str(round(r["categories"]["performance"]["score"] * 100)) for r in reports)
print(f"| {sys.argv[1]} | " + " | ".join(f"{x:g}" for x in s) + f" | {tbt:.0f} | {per_run} |")
PY
done
