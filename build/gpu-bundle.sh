#!/usr/bin/env bash
# Packs the benchmark for a CUDA machine that has PyTorch but no .NET SDK and no network, from registry parts only (the
# app's NuGet packages, TorchSharp's own libLibTorchSharp.so among them, and the installed .NET runtime):
#   bash build/gpu-bundle.sh [OUT_DIR]        -> OUT_DIR/kapre-gpu-bundle.tar.xz (default OUT_DIR: .gpu, ignored)
# The device check, from the repository root of a copy of this working tree that has .gpu/kapre-gpu-bundle.tar.xz:
#   bash build/device-check.sh
# By hand on such a machine: mkdir b && tar -xJf kapre-gpu-bundle.tar.xz -C b && LIBTORCH_DIR=... bash b/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-.gpu}"
STAGE="$OUT/stage"
rm -rf "$STAGE"; mkdir -p "$STAGE"

# The library's log-mel rows computed here, on the CPU with NuGet's libtorch-cpu: the device check compares them with
# torchaudio on the GPU whether or not TorchSharp's bridge loads against the device's libtorch.
# Made first, from the ordinary build (with its CPU natives), which the publish below replaces with one without them.
dotnet build test/Microsoft.ML.Audio.Gpu.Benchmarks -c Release --nologo -v q
dotnet test/Microsoft.ML.Audio.Gpu.Benchmarks/bin/Release/net10.0/Microsoft.ML.Audio.Gpu.Benchmarks.dll --parity --dump "$STAGE/cpu-parity" > /dev/null
python3 - "$STAGE/cpu-parity/parity.json" "$(sed -nE 's/.*"libtorch-cpu-linux-x64" Version="([^"]+)".*/\1/p' Directory.Packages.props)" <<'PY'
import json, sys
path, version = sys.argv[1], sys.argv[2]
cfg = json.load(open(path)); cfg["made_with"] = f"libtorch-cpu-linux-x64 {version} from NuGet, by build/gpu-bundle.sh"
json.dump(cfg, open(path, "w"))
PY

# Framework-dependent publish, without the CPU libtorch natives (libtorch comes from PyTorch at run time).
# APP_FROM=DIR takes such a publish made earlier instead.
if [ -n "${APP_FROM:-}" ]; then cp -r "$APP_FROM" "$STAGE/app"
else dotnet publish test/Microsoft.ML.Audio.Gpu.Benchmarks -c Release -o "$STAGE/app" -p:ExternalLibTorch=true --nologo -v q; fi
# The test project's CUDA-only tests (test category Cuda), run on the device by the app's --cuda-tests mode: the test
# assembly and MSTest's framework next to the app, whose other dependencies are the app's own.
TESTS_BIN=test/Microsoft.ML.Audio.Gpu.Tests/bin/Release/net10.0
[ -n "${APP_FROM:-}" ] && [ -f "$TESTS_BIN/Microsoft.ML.Audio.Gpu.Tests.dll" ] || dotnet build test/Microsoft.ML.Audio.Gpu.Tests -c Release --nologo -v q
cp "$TESTS_BIN/Microsoft.ML.Audio.Gpu.Tests.dll" "$TESTS_BIN/MSTest.TestFramework.dll" "$TESTS_BIN/MSTest.TestFramework.Extensions.dll" "$STAGE/app/"
# Only what linux-x64 runs: the portable publish carries the natives of 19 other runtimes (420 MB) and Windows DLLs.
find "$STAGE/app/runtimes" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
rm -rf "$STAGE/app/amd64" "$STAGE/app/"onnxruntime*.dll
# Not needed by the device check (the bundle is carried with the working tree, 64 MiB in all): ONNX Runtime (the
# sample's ONNX predict command), BenchmarkDotNet's disassembler, Roslyn and ETW/ClrMD diagnostics (for --micro from
# the bundle, KEEP_BDN=1 keeps them), debug info, XML docs, and the sample's bundled words (Data/, tracked in the
# repository: build/device-check.sh links samples/AudioClassification/Data there).
NATIVE="$STAGE/app/runtimes/linux-x64/native"
rm -f "$NATIVE/"libonnxruntime*.so "$NATIVE/"*.dbg "$STAGE/app/"*.xml
if [ "${KEEP_BDN:-0}" != 1 ]; then
  rm -f "$NATIVE/libcapstone.so"
  for a in Microsoft.CodeAnalysis Microsoft.CodeAnalysis.CSharp Microsoft.Diagnostics.Runtime Microsoft.Diagnostics.Tracing.TraceEvent \
           Microsoft.Diagnostics.FastSerialization Dia2Lib TraceReloggerLib Iced Gee.External.Capstone; do rm -f "$STAGE/app/$a.dll"; done
fi
rm -rf "$STAGE/app/Data"
# The host refuses to start when a file its deps.json lists is missing: drop the entries of the files removed above.
python3 - "$STAGE/app" <<'PY'
import json, os, sys
app = sys.argv[1]
for name in sorted(os.listdir(app)):
    if not name.endswith(".deps.json"):
        continue
    path = os.path.join(app, name); deps = json.load(open(path)); dropped = 0
    for target in deps.get("targets", {}).values():
        for lib in target.values():
            for kind in ("runtime", "native", "runtimeTargets", "resources"):
                for asset in list(lib.get(kind) or {}):
                    if not os.path.exists(os.path.join(app, asset)) and not os.path.exists(os.path.join(app, os.path.basename(asset))):
                        del lib[kind][asset]; dropped += 1
    json.dump(deps, open(path, "w"), indent=2)
    print(f"{name}: {dropped} entries of removed files dropped")
PY

# The .NET runtime the app needs: the muxer, hostfxr, Microsoft.NETCore.App and Microsoft.AspNetCore.App (the web
# load test's server) of the installed SDK.
DOTNET_DIR="$(dirname "$(readlink -f "$(command -v dotnet)")")"
RUNTIME_VERSION="$(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ {v=$2} END {print v}')"
mkdir -p "$STAGE/dotnet/host/fxr" "$STAGE/dotnet/shared/Microsoft.NETCore.App" "$STAGE/dotnet/shared/Microsoft.AspNetCore.App"
cp "$DOTNET_DIR/dotnet" "$STAGE/dotnet/"
cp -r "$DOTNET_DIR/host/fxr/$RUNTIME_VERSION" "$STAGE/dotnet/host/fxr/"
cp -r "$DOTNET_DIR/shared/Microsoft.NETCore.App/$RUNTIME_VERSION" "$STAGE/dotnet/shared/Microsoft.NETCore.App/"
cp -r "$DOTNET_DIR/shared/Microsoft.AspNetCore.App/$RUNTIME_VERSION" "$STAGE/dotnet/shared/Microsoft.AspNetCore.App/"
# The runtime's debugger and LTTng tracing support: not needed to run.
rm -f "$STAGE/dotnet/shared/Microsoft.NETCore.App/$RUNTIME_VERSION/"{libmscordaccore.so,libmscordbi.so,createdump,libcoreclrtraceptprovider.so}
cp build/gpu-compare.py build/parity-torchaudio.py "$STAGE/"
echo "app/Data (the sample's bundled words, for the Kapre experiment) is not in the bundle: copy or link the repository's samples/AudioClassification/Data there." > "$STAGE/README.txt"

cat > "$STAGE/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the .NET benchmark on CUDA device 0, the same workloads through PyTorch, and the Kapre experiment with
# TorchSharp's shipped bridge (libtorch 2.10) as is; results in results-*.md here. build/device-check.sh does more.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
LIBTORCH_DIR="${LIBTORCH_DIR:-$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}"
export DOTNET_ROOT="$HERE/dotnet" PATH="$HERE/dotnet:$PATH" LD_LIBRARY_PATH="$LIBTORCH_DIR:${LD_LIBRARY_PATH:-}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
echo "libtorch from $LIBTORCH_DIR"
if ! timeout 240 "$HERE/dotnet/dotnet" "$HERE/app/Microsoft.ML.Audio.Gpu.Benchmarks.dll" --gpu "${GPU:-0}" --runs 7 --out "$HERE/results-dotnet.md"; then
  echo "The .NET benchmark failed; native load diagnostics in $HERE/load-failure.txt"
  { echo "LIBTORCH_DIR=$LIBTORCH_DIR"; ls "$LIBTORCH_DIR" | head -50; echo "--- ldd -r libLibTorchSharp.so";
    ldd -r "$HERE/app/runtimes/linux-x64/native/libLibTorchSharp.so" 2>&1 | grep -E "not found|undefined" | head -100; } > "$HERE/load-failure.txt"
fi
timeout 90 python3 "$HERE/gpu-compare.py" | tee "$HERE/results-torch.md"
# The Kapre experiment on the device: epoch time with the front end in the network vs cached log-mel features.
timeout 120 "$HERE/dotnet/dotnet" "$HERE/app/Microsoft.ML.Audio.Gpu.Benchmarks.dll" --kapre --gpu "${GPU:-0}" --epochs 6 --out "$HERE/results-kapre.md" \
  || echo "The Kapre experiment failed (exit $?)"
RUN
chmod +x "$STAGE/run.sh"

echo "staged: app $(du -sh "$STAGE/app" | cut -f1), .NET runtime $(du -sh "$STAGE/dotnet" | cut -f1), CPU parity rows $(du -sh "$STAGE/cpu-parity" | cut -f1)"
XZ_OPT="${XZ_OPT:--9 -T2}" tar -cJf "$OUT/kapre-gpu-bundle.tar.xz" -C "$STAGE" .
rm -rf "$STAGE"
BUNDLE_B=$(stat -c %s "$OUT/kapre-gpu-bundle.tar.xz")
# What the device tool copies: the working tree (tracked + untracked, not ignored) and the carried bundle, 64 MiB in all.
TREE_B=$({ git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "bundle $(mib "$BUNDLE_B") + working tree $(mib "$TREE_B") = $(mib $((BUNDLE_B + TREE_B))) of the device tool's 64 MiB"
[ $((BUNDLE_B + TREE_B)) -lt $((62 * 1048576)) ] || echo "WARNING: too close to the device tool's 64 MiB" >&2
echo "Device tool: command 'bash build/device-check.sh', carry [\"$OUT/kapre-gpu-bundle.tar.xz\"], timeout_s 570"
# The publish above restored and built the bench app without libtorch's natives: put the ordinary build back, for the
# tests and benchmarks that run it from its output folder.
dotnet build test/Microsoft.ML.Audio.Gpu.Benchmarks -c Release --nologo -v q > /dev/null
