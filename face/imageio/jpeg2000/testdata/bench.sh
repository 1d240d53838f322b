#!/bin/bash
# Times this package's decoder and opj_decompress on the same files in one
# run and prints, per file, milliseconds per decode:
#   wall: median and minimum over rounds, alternating the two decoders.
#     Ours is Decode (bytes to image.Image) from the Go benchmark; OpenJPEG's
#     is the "decode time" opj_decompress prints (codestream to image, file
#     output excluded), with its default single thread.
#   cpu: user+system CPU time of the whole process divided by the decodes
#     it ran (Go: one test binary running N decodes; OpenJPEG: N processes,
#     so its figure includes process start-up and writing a PPM file).
# CPU time is the steadier figure on a shared machine.
# Usage: testdata/bench.sh [rounds]
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-15}
bin=$(mktemp)
out=$(mktemp -d)
trap 'rm -rf "$bin" "$out"' EXIT
go test -c -o "$bin" .
stats() { sort -n | awk '{a[NR]=$1} END {printf "median %.1f min %.1f", a[int((NR+1)/2)], a[1]}'; }
TIMEFORMAT='%U %S'
n=40
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
	gocpu=$({ time "$bin" -test.run XXX -test.bench "BenchmarkDecode$bench\$" -test.benchtime ${n}x >/dev/null; } 2>&1 | awk -v n=$n '{printf "%.1f", ($1+$2)*1000/n}')
	opjcpu=$({ time for k in $(seq $n); do opj_decompress -i "testdata/$file.jp2" -o "$out/x.ppm" >/dev/null 2>&1; done; } 2>&1 | awk -v n=$n '{printf "%.1f", ($1+$2)*1000/n}')
	echo "$file: go wall $(stats <"$out/go") cpu $gocpu | opj_decompress wall $(stats <"$out/opj") cpu $opjcpu"
done
