#!/usr/bin/env bash
# Lighthouse (mobile configuration) on the sample site's home, an article and an FAQ page, served on
# 127.0.0.1, with Debian's Chromium. Run by hand: bash bench/lighthouse.sh  (writes bench/_work/lighthouse/)
set -euo pipefail
cd "$(dirname "$0")/.."
work=bench/_work/lighthouse
mkdir -p "$work"
if [ ! -x "$work/node_modules/.bin/lighthouse" ]; then
  npm install --silent --prefix "$work" lighthouse >/dev/null
fi
rm -rf "$work/project" && mkdir -p "$work/project"
cp -r content kbgen.toml "$work/project/"
(cd "$work/project" && python -m kbgen build >/dev/null)
port=8765
python -m http.server "$port" --bind 127.0.0.1 --directory "$work/project/site" >/dev/null 2>&1 &
server=$!
trap 'kill $server' EXIT
sleep 1
export CHROME_PATH=/usr/bin/chromium
echo "| page | performance | accessibility | best practices | SEO |"
echo "|---|---:|---:|---:|---:|"
for path in / /orders/tracking/track-your-order/ /returns-refunds/returns/returns-faq/; do
  out="$work/report-$(echo "$path" | tr '/' '_').json"
  "$work/node_modules/.bin/lighthouse" "http://127.0.0.1:$port$path" --quiet --output=json --output-path="$out" \
    --chrome-flags="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update" >/dev/null 2>&1
  python - "$out" "$path" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["categories"]
s = [round(r[k]["score"] * 100) for k in ("performance", "accessibility", "best-practices", "seo")]
print(f"| {sys.argv[2]} | " + " | ".join(map(str, s)) + " |")
PY
done
