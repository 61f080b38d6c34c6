#!/bin/sh
# fetch-nixpkgs.sh URL SHA256 DEST — unpacks a nixpkgs tarball into DEST for nix.conf's nix-path.
# SHA256 (of the tarball file, as `sha256sum` prints it) is checked when not empty; either way
# the URL and the actual sha256 are written to DEST/.pypi-graph-pin.
set -eu
url=$1
want=$2
dest=$3
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp" "$url"
got=$(sha256sum "$tmp" | cut -d' ' -f1)
if [ -n "$want" ] && [ "$want" != "$got" ]; then
  echo "fetch-nixpkgs: $url has sha256 $got, expected $want" >&2
  exit 1
fi
mkdir -p "$dest"
tar -xzf "$tmp" -C "$dest" --strip-components=1 --no-same-owner
printf 'url=%s\nsha256=%s\n' "$url" "$got" >"$dest/.pypi-graph-pin"
echo "fetch-nixpkgs: $dest <- $url (sha256 $got)"
