#!/usr/bin/env bash
# Packs the benchmark for a CUDA machine that has PyTorch but no .NET SDK and no network:
#   bash build/gpu-bundle.sh [OUT_DIR]        -> OUT_DIR/kapre-gpu-bundle.tar.xz (default OUT_DIR: .gpu)
# On that machine:
#   mkdir b && tar -xJf kapre-gpu-bundle.tar.xz -C b && LIBTORCH_DIR=/path/to/torch/lib bash b/run.sh
# LIBTORCH_DIR defaults to the installed PyTorch's torch/lib. TorchSharp 0.107 is built against libtorch 2.10; if
# its native bridge does not load against another libtorch, run.sh writes the missing symbols to load-failure.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-.gpu}"
STAGE="$OUT/stage"
rm -rf "$STAGE"; mkdir -p "$STAGE"

# Framework-dependent publish, without the CPU libtorch natives (libtorch comes from LIBTORCH_DIR at run time).
dotnet publish test/Microsoft.ML.Audio.Gpu.Benchmarks -c Release -o "$STAGE/app" -p:ExternalLibTorch=true --nologo -v q
# The .NET runtime the app needs: the muxer, hostfxr and Microsoft.NETCore.App of the installed SDK.
DOTNET_DIR="$(dirname "$(readlink -f "$(command -v dotnet)")")"
RUNTIME_VERSION="$(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ {v=$2} END {print v}')"
mkdir -p "$STAGE/dotnet/host/fxr" "$STAGE/dotnet/shared/Microsoft.NETCore.App"
cp "$DOTNET_DIR/dotnet" "$STAGE/dotnet/"
cp -r "$DOTNET_DIR/host/fxr/$RUNTIME_VERSION" "$STAGE/dotnet/host/fxr/"
cp -r "$DOTNET_DIR/shared/Microsoft.NETCore.App/$RUNTIME_VERSION" "$STAGE/dotnet/shared/Microsoft.NETCore.App/"
cp build/gpu-compare.py "$STAGE/"

cat > "$STAGE/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the .NET benchmark on CUDA device 0, the same workloads through PyTorch, and the Kapre experiment; results in
# results-*.md here.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
LIBTORCH_DIR="${LIBTORCH_DIR:-$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}"
export DOTNET_ROOT="$HERE/dotnet" PATH="$HERE/dotnet:$PATH" LD_LIBRARY_PATH="$LIBTORCH_DIR:${LD_LIBRARY_PATH:-}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
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

tar -cJf "$OUT/kapre-gpu-bundle.tar.xz" -C "$STAGE" .
du -h "$OUT/kapre-gpu-bundle.tar.xz"
