#!/usr/bin/env bash
# A new user's app against the packed packages (issue 32), as one command; PackageTests runs it.
#   bash test/FreshApp/check.sh [WORK_DIR]      (default: a new temporary folder)
# Outside the repository, as a new user would: `dotnet new console`; `dotnet add package Microsoft.ML` (the newest
# served, 6.0.0); `dotnet add package Kapre.MLNet` from a folder source holding the three packages that `dotnet pack`
# makes of this checkout; `dotnet add package libtorch-cpu-linux-x64`. Then a forced restore whose output must have no
# NU1608, NU1605 or NU1107 warning, `dotnet build -o`, and the app (Program.cs beside this script): it trains on
# synthetic tones, saves, loads into a new MLContext and predicts, and exits non-zero when the loaded model differs.
# Needs the solution built in Release (the packages are packed from its output, --no-build) and NuGet's network for
# Microsoft.ML's newest version. Restores into WORK_DIR/nuget-packages, reading every other package from the machine's
# global packages folder as a read-only fallback, so Kapre.MLNet's packages never enter that folder (where a stale 0.1.0
# would be used by later restores) and nothing else is downloaded again.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; REPO="$(cd "$HERE/../.." && pwd)"
WORK="${1:-$(mktemp -d)}"; mkdir -p "$WORK"; WORK="$(cd "$WORK" && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
step() { echo "== [$SECONDS s] $*"; }

step "pack the three packages of $REPO"
for p in Microsoft.ML.Audio.Gpu.Layers Microsoft.ML.Audio.Gpu.IO Microsoft.ML.Audio.Gpu; do
  dotnet pack "$REPO/src/$p" -c Release --no-build -o "$WORK/packages" --nologo -v q
done
ls "$WORK/packages"

GLOBAL="$(dotnet nuget locals global-packages --list | sed -E 's/^global-packages: *//')"
rm -rf "$WORK/fallback" "$WORK/nuget-packages" "$WORK/app" "$WORK/out" "$WORK/data"
mkdir -p "$WORK/fallback" "$WORK/nuget-packages" "$WORK/app"
for d in "$GLOBAL"/*; do case "$(basename "$d")" in kapre.*) ;; *) ln -s "$d" "$WORK/fallback/";; esac; done

step "a new console app in $WORK/app"
cd "$WORK/app"
dotnet new console -n FreshApp -o . --force > /dev/null
# Adds a source and moves the package folders; clears nothing and leaves the machine's nuget.org key alone.
cat > NuGet.config <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <config><add key="globalPackagesFolder" value="$WORK/nuget-packages" /></config>
  <fallbackPackageFolders><add key="machine" value="$WORK/fallback" /></fallbackPackageFolders>
  <packageSources><add key="kapre-packed" value="$WORK/packages" /></packageSources>
</configuration>
XML
dotnet add package Microsoft.ML
dotnet add package Kapre.MLNet
dotnet add package libtorch-cpu-linux-x64
grep -o '<PackageReference [^>]*>' FreshApp.csproj

step "restore"
dotnet restore --force 2>&1 | tee "$WORK/restore.log"
if grep -E 'NU1608|NU1605|NU1107' "$WORK/restore.log"; then echo "FAILED: restore warned of a version conflict"; exit 1; fi
echo "restore: no NU1608, NU1605 or NU1107"

step "build with -o"
cp "$HERE/Program.cs" Program.cs
dotnet build -c Release -o "$WORK/out" --nologo 2>&1 | tail -3

step "run"
dotnet "$WORK/out/FreshApp.dll" "$WORK/data"
step "done"
