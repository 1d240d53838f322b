#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (the S3-compatible object store the scale-out
# tests run against) from the Go module proxy, once, into the user cache:
#
#   $cache/seaweedfs-$version/weed
#
# `go install …/weed@version` is refused (the module has a replace
# directive), so the module is copied out of the module cache and built
# inside it. It is never a dependency of madoguchi's module. Idempotent: a
# built binary is reused; a half-finished build never looks finished (the
# binary is renamed into place last). Prints the binary's path.
set -euo pipefail
version=v0.0.0-20261109003541-7506e5f91cd6   # /work/.library/env/packages/go-partial.tsv
cache="${XDG_CACHE_HOME:-$HOME/.cache}/madoguchi"
dir="$cache/seaweedfs-$version"
bin="$dir/weed"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ -x "$bin" ]; then   # another run built it while we waited
  echo "$bin"
  exit 0
fi
src=$(cd / && GOFLAGS=-mod=mod go mod download -json "github.com/seaweedfs/seaweedfs@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$src" ] && [ -d "$src" ] || { echo "seaweedfs: module download failed" >&2; exit 1; }
work=$(mktemp -d "$dir/build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$src" "$work/src"
chmod -R u+w "$work/src"
(cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$work/weed" ./weed) >&2
"$work/weed" version >/dev/null
mv "$work/weed" "$bin"
echo "$bin"
