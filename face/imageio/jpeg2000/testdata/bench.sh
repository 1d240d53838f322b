#!/bin/sh
# Times this package's decoder and opj_decompress on the same files in one
# run, alternating, and prints the median and minimum per file (ms). Our
# figure is Decode (bytes to image.Image); OpenJPEG's is the "decode time"
# opj_decompress reports (codestream to image, excluding file output), with
# its default single thread. Usage: testdata/bench.sh [rounds]
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-15}
bin=$(mktemp)
out=$(mktemp -d)
trap 'rm -rf "$bin" "$out"' EXIT
go test -c -o "$bin" .
stats() { sort -n | awk '{a[NR]=$1} END {printf "median %.1f min %.1f", a[int((NR+1)/2)], a[1]}'; }
for f in portrait_97:Portrait97 face_97:Face97 face_53:Face53; do
	file=${f%%:*} bench=${f##*:}
	: >"$out/go" && : >"$out/opj"
	for i in $(seq "$rounds"); do
		"$bin" -test.run XXX -test.bench "BenchmarkDecode$bench\$" -test.benchtime 5x |
			awk '/ns\/op/ {print $3/1e6}' >>"$out/go"
		for k in 1 2 3 4 5; do
			opj_decompress -i "testdata/$file.jp2" -o "$out/x.ppm" 2>/dev/null |
				awk '/decode time/ {print $3}' >>"$out/opj"
		done
	done
	echo "$file: go $(stats <"$out/go") | opj_decompress $(stats <"$out/opj")"
done
