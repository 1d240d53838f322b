#!/bin/sh
# Regenerates the JPEG 2000 test files and their reference decodes.
#
# Needs Go and OpenJPEG's command-line tools (Debian: libopenjp2-tools).
# The tests do not: they read the committed files. Each case NAME yields
# NAME.j2k or NAME.jp2 (encoded by opj_compress from a synthetic image or a
# crop of face/testdata's astronaut photograph) and NAME.png or NAME.pgm
# (decoded by opj_decompress), the golden the decoder must match: exactly for
# lossless cases, within ±1 per sample for irreversible (9/7) ones.
set -eu
cd "$(dirname "$0")"
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
go run ./gen ../../../testdata/golden/images "$src"

# case NAME EXT SOURCE GOLDEN-EXT opj_compress-options...
case_() {
	name=$1 ext=$2 in=$3 gext=$4
	shift 4
	opj_compress -i "$src/$in" -o "$name.$ext" "$@" >/dev/null
	opj_decompress -i "$name.$ext" -o "$name.$gext" >/dev/null
	echo "$name.$ext $(wc -c <"$name.$ext") bytes: $*"
}

rm -f ./*.j2k ./*.jp2 ./*.png ./*.pgm ./*.ppm
# Grey, 8 bit.
case_ gray_53_r1 j2k gray.png png -n 1
case_ gray_53 j2k gray.png png -n 3
case_ gray_53 jp2 gray.png png -n 4
case_ gray_97 j2k gray.png png -n 3 -I -r 6
case_ gray_97_layers j2k gray.png png -n 3 -I -r 20,8,3 -p RLCP
case_ gray_offset j2k gray.png png -n 3 -d 3,5 -t 24,16 -T 1,2
case_ gray_offset_97 j2k gray.png png -n 3 -d 7,1 -t 20,20 -T 2,0 -I -r 5
case_ gray_cb16 j2k gray.png png -n 2 -b 16,16
case_ gray_cb64x16 j2k gray.png png -n 2 -b 64,16 -I -r 4
case_ gray_sub j2k gray.png png -n 2 -s 2,2
# Code-block styles (-M: 1 bypass, 2 reset, 4 termall, 8 vsc, 16 pterm, 32 segsym).
for m in 1 2 4 8 16 32 63; do
	case_ gray_m$m j2k gray.png png -n 3 -M $m
	case_ gray_m${m}_97 j2k gray.png png -n 3 -M $m -I -r 3,1.5
done
# Grey, 12 bit.
case_ gray12_53 j2k gray12.pgm pgm -n 3
case_ gray12_97 j2k gray12.pgm pgm -n 3 -I -r 5
# RGB, 8 bit.
case_ rgb_53 jp2 rgb.png png -n 3
case_ rgb_97 jp2 rgb.png png -n 4 -I -r 10
case_ rgb_nomct j2k rgb.png png -n 3 -mct 0
case_ rgb_tiles j2k rgb.png png -n 2 -t 32,32 -TP R -SOP -EPH -PLT -TLM
case_ rgb_tiles_97 j2k rgb.png png -n 3 -t 40,24 -I -r 12,4
for p in LRCP RLCP RPCL PCRL CPRL; do
	case_ rgb_prec_$p j2k rgb.png png -n 4 -c '[32,32],[16,16],[8,8]' -b 8,8 -r 20,5,1 -p $p
done
case_ rgb_prec_97 j2k rgb.png png -n 4 -c '[64,64],[32,32],[16,16]' -b 16,16 -I -r 30,10,3 -p PCRL -SOP -EPH
case_ rgb_poc j2k rgb.png png -n 3 -r 16,4,1 -POC 'T1=0,0,3,2,3,RLCP/T1=2,0,3,3,3,CPRL'
case_ rgb_poc3 j2k rgb.png png -n 3 -r 16,4,1 -POC 'T1=0,0,3,1,2,CPRL/T1=0,2,3,3,3,LRCP/T1=1,0,3,3,2,PCRL'
case_ rgb_roi j2k rgb.png png -n 3 -ROI c=0,U=5 -I -r 8
case_ rgb_roi_53 j2k rgb.png png -n 3 -ROI c=1,U=3
# Faces: what an IC chip holds.
case_ face_53 jp2 face.png png -n 5
case_ face_97 jp2 face.png png -n 5 -I -r 20
case_ facegray_97 jp2 facegray.png png -n 5 -I -r 15
case_ portrait_97 jp2 portrait.png png -n 6 -I -r 40
rm portrait_97.png # too large to commit; the benchmark file needs no golden
