#!/bin/sh
# Stages what the macOS package carries of the engine, for the Mac this runs on
# (electron-builder.yml: build/engine/darwin-${arch}/{openvpn/openvpn,node/node}):
#  - openvpn 2.6, built from the official source tarball (OpenVPN publishes no macOS
#    binary), pinned by SHA-256 in packaging/engine.json, with OpenSSL, LZO and LZ4 linked
#    statically from Homebrew so the binary needs nothing outside the system;
#  - Node.js for ferry-helper, the official tarball, pinned the same way.
# Needs Xcode's command line tools and `brew install openssl@3 lzo lz4 pkgconf`. Build
# time only; not run by anyone yet (see README).
set -eu
cd "$(dirname "$0")/.."

case "$(uname -m)" in
  arm64) ARCH=arm64 ;;
  x86_64) ARCH=x64 ;;
  *) echo "build-openvpn-macos: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
OUT="build/engine/darwin-$ARCH"
node scripts/fetch-engine.mjs openvpn-source "node-darwin-$ARCH"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
tar -xzf build/engine/src/openvpn.tar.gz -C "$WORK"
SRC="$(find "$WORK" -maxdepth 1 -type d -name 'openvpn-2.6.*' | head -n 1)"
[ -n "$SRC" ] || { echo "build-openvpn-macos: the tarball holds no openvpn-2.6.* directory" >&2; exit 1; }

OSSL="$(brew --prefix openssl@3)"
LZO="$(brew --prefix lzo)"
LZ4="$(brew --prefix lz4)"
(
  cd "$SRC"
  ./configure \
    --disable-shared --enable-static --disable-plugins --disable-debug \
    OPENSSL_CFLAGS="-I$OSSL/include" OPENSSL_LIBS="$OSSL/lib/libssl.a $OSSL/lib/libcrypto.a" \
    LZO_CFLAGS="-I$LZO/include" LZO_LIBS="$LZO/lib/liblzo2.a" \
    LZ4_CFLAGS="-I$LZ4/include" LZ4_LIBS="$LZ4/lib/liblz4.a"
  make -j"$(sysctl -n hw.ncpu)"
)
mkdir -p "$OUT/openvpn" "$OUT/node"
install -m 0755 "$SRC/src/openvpn/openvpn" "$OUT/openvpn/openvpn"

# Nothing but the system's own libraries may be linked.
if otool -L "$OUT/openvpn/openvpn" | tail -n +2 | awk '{print $1}' | grep -Ev '^/(usr/lib|System/Library)/'; then
  echo "build-openvpn-macos: openvpn links libraries outside the system (above)" >&2
  exit 1
fi
"$OUT/openvpn/openvpn" --version | head -n 1 | grep -q '^OpenVPN 2\.6\.' || { echo "build-openvpn-macos: the binary is not OpenVPN 2.6" >&2; exit 1; }

tar -xzf "build/engine/darwin-$ARCH/node.tar.gz" -C "$WORK"
install -m 0755 "$WORK"/node-v*-darwin-*/bin/node "$OUT/node/node"
echo "staged $OUT/openvpn/openvpn and $OUT/node/node"
