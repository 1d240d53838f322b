#!/bin/sh
# Same-run speed comparison: the reference (tfjs-wasm, single thread) and the
# Go port on the same image, one after the other, so both see the same
# machine. Usage (from the repository root, models installed, npm ci done):
#
#   MADOGUCHI_MODELS=/path/to/models sh tools/face-reference/bench.sh [image.png] [runs]
#
# Prints the reference's per-stage medians (ms, wall) and the Go benchmarks
# (ns/op wall and cpu-ms/op) with GOMAXPROCS 1 and 2.
set -eu
img=${1:-face/testdata/golden/images/astronaut_face_250.png}
runs=${2:-20}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$img" "$dir/"
(cd tools/face-reference && node harness.js --input "$dir" --out "$dir/ref.jsonl" --runs "$runs" --warmup 3 >/dev/null)
node -e 'const s=require(process.argv[1]); console.log(JSON.stringify(s.latency_median_ms))' "$dir/ref.summary.json"
go test ./face/faceapi ./face/human -run '^$' -bench . -benchtime "${runs}x" -cpu 1,2 | grep -E '^(Benchmark|ok)'
