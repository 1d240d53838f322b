#!/usr/bin/env bash
# eKYC benchmark: whole sessions — ヘ (a test driver's licence chip + 4 selfie
# frames) and ホ (front, back and tilted document photos + 3 selfie frames) —
# driven from a second process against a development server with the real face engine; reports sessions decided per
# minute, the latency from the last capture (submit) to the decision (p50,
# p99) and the server's CPU seconds per session.
# Usage: bench/ekyc.sh [sessions] [concurrency]   (needs the face models:
# MADOGUCHI_MODELS or ~/.cache/madoguchi/models, see 'madoguchi models install')
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
conc=${2:-4}
models=${MADOGUCHI_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/madoguchi/models}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

CGO_ENABLED=0 go build -o "$work/madoguchi" ./cmd/madoguchi
bin="$work/madoguchi"
img=face/testdata/golden/images
port=$((20000 + RANDOM % 20000))
url="http://127.0.0.1:$port"
"$bin" serve --data "$work/data" --addr "127.0.0.1:$port" --models "$models" --models-install off \
  --rate-limit 0 --log-level warn 2>"$work/serve.log" &
pid=$!
for _ in $(seq 300); do
  curl -sf "$url/metrics" 2>/dev/null | grep -q '^madoguchi_models_ready 1' && break
  sleep 0.2
done
curl -sf "$url/metrics" | grep -q '^madoguchi_models_ready 1' || { echo "models not ready"; cat "$work/serve.log"; exit 1; }

"$bin" dev chip --data "$work/data" --kind jpdl --photo "$img/astronaut_face_250.png" \
  --name "山田 太郎" --birthdate 1985-04-01 --out "$work/chip" >/dev/null
# Four different stills of one face (identical frames are refused as replays).
selfies=(--selfie "$img/astronaut_face_250.png" --selfie "$img/astronaut_512.png" \
         --selfie "$img/astronaut_gray_250.png" --selfie "$img/astronaut_wide_256x170.png")

echo "# warm-up"
"$bin" bench ekyc --server "$url" --data "$work/data" --method he --chip "$work/chip" "${selfies[@]}" --sessions 2 --concurrency 1 >/dev/null
echo "# method he: $n sessions, $conc at once"
"$bin" bench ekyc --server "$url" --data "$work/data" --method he --chip "$work/chip" "${selfies[@]}" \
  --sessions "$n" --concurrency "$conc" --server-pid "$pid"
echo "# method ho: $n sessions, $conc at once"
# Document photos and selfies must all differ (a repeated image is a replay).
"$bin" bench ekyc --server "$url" --data "$work/data" --method ho \
  --doc "$img/astronaut_wide_256x170.png,$img/chelsea_cat_noface.png,$img/two_faces_400x250.png" \
  --selfie "$img/astronaut_face_250.png" --selfie "$img/astronaut_512.png" --selfie "$img/astronaut_gray_250.png" \
  --sessions "$n" --concurrency "$conc" --server-pid "$pid"
