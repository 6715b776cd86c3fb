#!/usr/bin/env bash
# Installs what TorchSharp 0.107.0, the sample's plots and the web sample's browser test need, and nothing else. Idempotent.
#
# Fonts: the sample draws its plots with ScottPlot on SkiaSharp (the NoDependencies native build: no fontconfig).
# It reads fonts from /usr/share/fonts and, with none there (slim images), draws plots without any text. Where no
# font is found we install fonts-dejavu-core (Debian, Ubuntu).
#
# TorchSharp's native bridge (libLibTorchSharp.so) is built with GCC 13 and needs
# libstdc++ exporting GLIBCXX_3.4.32. Debian 12 ships 3.4.30; every TorchSharp call then
# fails with a TypeInitializationException. Where the symbol is missing on Debian 12 we add
# Debian 13 ("trixie") as an apt source pinned below the system's release, so nothing
# else moves to trixie, and install trixie's libstdc++6 (it pulls a newer libc6 too).
#
# Supported: Debian 13+, Ubuntu 24.04+ (nothing to do), Debian 12 (handled here).
# Other systems: install libstdc++ from GCC 13 or newer by your own means.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

has_fonts() {
  [ -d /usr/share/fonts ] && [ -n "$(find /usr/share/fonts -type f \( -iname '*.ttf' -o -iname '*.ttc' -o -iname '*.otf' \) -print -quit)" ]
}

if has_fonts; then
  echo "install-prerequisites: fonts found in /usr/share/fonts; nothing to do for the plots."
elif command -v apt-get >/dev/null; then
  echo "install-prerequisites: no fonts in /usr/share/fonts; installing fonts-dejavu-core for the sample's plots..."
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends fonts-dejavu-core >/dev/null
  has_fonts || { echo "install-prerequisites: fonts-dejavu-core installed but no font in /usr/share/fonts." >&2; exit 1; }
else
  echo "install-prerequisites: no fonts in /usr/share/fonts and no apt-get: install a TrueType font (e.g. DejaVu)" >&2
  echo "there by your own means, or the sample's plots will have no text." >&2
fi

# Browser: the web sample's browser test (test/.../Web/BrowserTests) drives Debian's chromium headless through the
# DevTools protocol, and docs/web-sample.png is its screenshot. Installed where no chromium is found; the test names
# this script when it is missing. Other systems: install Chromium or Chrome by your own means (or set CHROMIUM).
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then
  echo "install-prerequisites: chromium found; nothing to do for the browser test."
elif command -v apt-get >/dev/null; then
  echo "install-prerequisites: installing chromium for the web sample's browser test..."
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
  command -v chromium >/dev/null || { echo "install-prerequisites: chromium installed but not on PATH." >&2; exit 1; }
else
  echo "install-prerequisites: no chromium and no apt-get: install Chromium or Chrome for the web sample's browser" >&2
  echo "test by your own means (or set CHROMIUM to its path)." >&2
fi

need=GLIBCXX_3.4.32

has_symbol() {
  local lib
  for lib in $(/sbin/ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64|libstdc\+\+\.so\.6 .*AArch64/ {print $NF}') \
             /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib/aarch64-linux-gnu/libstdc++.so.6; do
    [ -r "$lib" ] && grep -qa "$need" "$lib" && return 0
  done
  return 1
}

if has_symbol; then
  echo "install-prerequisites: libstdc++ already provides $need; nothing to do."
  exit 0
fi

. /etc/os-release 2>/dev/null || true
if [ "${ID:-}" != "debian" ] || [ "${VERSION_ID:-}" != "12" ]; then
  echo "install-prerequisites: libstdc++ lacks $need and this is ${PRETTY_NAME:-an unknown system}." >&2
  echo "Install libstdc++ from GCC 13 or newer (Debian 13+ and Ubuntu 24.04+ have it)." >&2
  exit 1
fi

list=/etc/apt/sources.list.d/kapre-mlnet-trixie.list
pin=/etc/apt/preferences.d/kapre-mlnet-trixie
if [ ! -f "$list" ]; then
  echo "deb http://deb.debian.org/debian trixie main" | $SUDO tee "$list" >/dev/null
fi
if [ ! -f "$pin" ]; then
  printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' | $SUDO tee "$pin" >/dev/null
fi

echo "install-prerequisites: installing libstdc++6 from Debian 13 (trixie), pinned low..."
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq -t trixie libstdc++6 >/dev/null

if has_symbol; then
  echo "install-prerequisites: done; libstdc++ now provides $need."
else
  echo "install-prerequisites: libstdc++6 from trixie installed but $need is still missing." >&2
  exit 1
fi
