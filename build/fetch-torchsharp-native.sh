#!/usr/bin/env bash
# Extracts TorchSharp's native bridge sources (src/Native: LibTorchSharp + its CMake files) from a local git copy of
# github.com/dotnet/TorchSharp into an ignored folder, for build/device-check.sh to rebuild libLibTorchSharp.so against
# the libtorch of a CUDA machine. Third-party code (MIT, .NET Foundation): carried in .gpu/, never committed.
#   bash build/fetch-torchsharp-native.sh GIT_DIR [REV] [DEST]
# GIT_DIR: a clone or bare mirror of dotnet/TorchSharp (nothing is downloaded here).
# REV: the 0.107.0 release. TorchSharp has no tag for it; main at c20b6a1c ("Update release notes (#1565)", 7 May 2026,
# BranchInfo.props 0.107.0, the day the NuGet package was signed) is the release commit: the THS* exports declared in its
# headers match the 1,166 exported by the package's libLibTorchSharp.so (4 declared but never defined, as in the .so).
# DEST: default .gpu/LibTorchSharp-src (ignored by /.gpu/ in .gitignore).
set -euo pipefail
cd "$(dirname "$0")/.."
GIT_DIR="${1:?usage: $0 GIT_DIR [REV] [DEST]}"
REV="${2:-c20b6a1cc574d690707638a488d2583f3b8b983f}"
DEST="${3:-.gpu/LibTorchSharp-src}"
git --git-dir="$GIT_DIR" cat-file -e "$REV^{commit}"
VERSION="$(git --git-dir="$GIT_DIR" show "$REV:build/BranchInfo.props" | sed -nE 's/.*<(Major|Minor|Patch)Version>([0-9]+)<.*/\2/p' | paste -sd.)"
rm -rf "$DEST"; mkdir -p "$DEST"
# src/Native holds LibTorchSharp/ (sources, CMakeLists), the top CMakeLists.txt, Stdafx.h, UnixSal.h and build.sh;
# build/device-check.sh uses its own CMakeLists (build/libtorchsharp/CMakeLists.txt) and only the sources from here.
git --git-dir="$GIT_DIR" archive --format=tar "$REV" src/Native LICENSE.txt THIRD-PARTY-NOTICES.TXT | tar -xf - -C "$DEST"
printf 'repo=https://github.com/dotnet/TorchSharp\ncommit=%s\nversion=%s\n' "$(git --git-dir="$GIT_DIR" rev-parse "$REV^{commit}")" "$VERSION" > "$DEST/SOURCE"
echo "TorchSharp $VERSION native sources in $DEST ($(du -sh "$DEST" | cut -f1))"
