#!/bin/sh
# Regenerates the reference decodes of the conformance codestreams with
# OpenJPEG's opj_decompress (Debian: libopenjp2-tools). The codestreams come
# from the ISO/IEC 15444-4 suite as published in the uclouvain/openjpeg-data
# repository (input/conformance); see COPYRIGHT.
#
# Components of reversible streams must match exactly: only the SHA-256 of
# each reference PGX file is kept (SHA256SUMS). Components that use the 9/7
# transform are compared within ±1, so their PGX is kept, gzipped.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f ./*.pgx.gz SHA256SUMS
for f in *.j2k *.j2c; do
	b=${f%.*}
	case $b in p0_13) continue ;; esac # 257 components: refused by design
	opj_decompress -i "$f" -o "$tmp/$b.pgx" >/dev/null
done
cd "$tmp"
for p in *.pgx; do
	case $p in
	p0_06_[012].pgx | p0_09_0.pgx | p1_06_*.pgx) gzip -9 -n -c "$p" >"$OLDPWD/$p.gz" ;;
	*) sha256sum "$p" >>"$OLDPWD/SHA256SUMS" ;;
	esac
done
