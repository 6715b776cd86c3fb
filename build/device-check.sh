#!/usr/bin/env bash
# The GPU device check as one command, for a CUDA machine with PyTorch (C++ headers and libs included), CMake, a C++
# compiler, but no .NET SDK and no network. Run from the repository root with the bundle of build/gpu-bundle.sh in .gpu/:
#   bash build/device-check.sh            (results in $OUT, else .gpu/results)
# Steps, all inside BUDGET_S (default 530 s, under the 9 minutes of one device call):
#   1. unpacks .gpu/kapre-gpu-bundle.tar.xz (the app, a .NET runtime, gpu-compare.py, TorchSharp's native sources);
#   2. finds PyTorch's libtorch (torch/lib, torch/include), its version and C++ ABI;
#   3. checks that every symbol TorchSharp's shipped bridge (libLibTorchSharp.so, built for libtorch 2.10) imports is
#      defined by that libtorch and the system libraries (build/libtorchsharp/check-symbols.sh);
#   4. unless a carried prebuilt bridge for this PyTorch version resolves (.gpu/prebuilt/, from an earlier run's
#      $OUT/prebuilt/), or PyTorch is 2.10.x and the shipped bridge resolves, rebuilds the bridge from TorchSharp
#      0.107.0's sources against this libtorch (CMake + ninja, BUILD_S seconds at most); a function that does not
#      compile or link against it is stubbed (build/libtorchsharp/stub-failed.py; list in $OUT/stubbed.tsv);
#   5. puts the built bridge next to the app and in $OUT/prebuilt/ (carry it back as .gpu/prebuilt/ to skip the build);
#   6. re-checks the symbols, then runs the parity check (every transform on cuda:GPU against the CPU, and the log-mel
#      against torchaudio on the device), the test project's CUDA-only tests, the .NET benchmark on cuda:GPU, gpu-compare.py (torchaudio and torch ops) and,
#      time permitting, the trainer's examples per second and the Kapre experiment, each under timeout; $OUT/summary.md has the outcome of each step.
# Settings (environment): OUT, GPU (0), RUNS (7), BUDGET_S (530), BUILD_S (300), JOBS (nproc), TS_OPT (-O1),
# FORCE_BUILD=1 (build even when the shipped bridge would do), BRIDGE=shipped (never build), BUNDLE, PREBUILT_DIR,
# KAPRE_WORK (unpack folder, default /tmp/kapre-gpu), PYTHON (python3), TORCH_LIB / TORCH_INCLUDE / TORCH_VERSION /
# TORCH_ABI (instead of asking PyTorch), NO_RUN=1 (stop after the bridge: for dry runs without a GPU).
set -uo pipefail
T0=$SECONDS
cd "$(dirname "$0")/.."
REPO="$PWD"
BUDGET_S="${BUDGET_S:-530}" BUILD_S="${BUILD_S:-300}" GPU="${GPU:-0}" RUNS="${RUNS:-7}" JOBS="${JOBS:-$(nproc)}"
OUT="${OUT:-$REPO/.gpu/results}"; mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
WORK="${KAPRE_WORK:-${TMPDIR:-/tmp}/kapre-gpu}"
BUNDLE="${BUNDLE:-$REPO/.gpu/kapre-gpu-bundle.tar.xz}"
PREBUILT_DIR="${PREBUILT_DIR:-$REPO/.gpu/prebuilt}"
PYTHON="${PYTHON:-python3}"
SUMMARY="$OUT/summary.md"; : > "$SUMMARY"
log() { echo "- [$((SECONDS - T0)) s] $*" | tee -a "$SUMMARY"; }
# budget CAP RESERVE: seconds for the next step, CAP at most, leaving RESERVE of BUDGET_S for what follows.
budget() { local b=$((BUDGET_S - (SECONDS - T0) - $2)); [ "$b" -gt "$1" ] && b=$1; [ "$b" -lt 0 ] && b=0; echo "$b"; }
finish() { log "done: $1 (total $((SECONDS - T0)) s)"; exit "${2:-0}"; }

# (a) Environment: no ICU on the device; LD_BIND_NOW so that a missing symbol fails when the bridge loads, not
# mid-run. PyTorch's own Python runs do without it (it binds its optional CUDA libraries lazily).
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 LD_BIND_NOW=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
py() { env -u LD_BIND_NOW "$PYTHON" "$@"; }
echo "# Device check $(date -u +%FT%TZ)" >> "$SUMMARY"

[ -f "$BUNDLE" ] || finish "no bundle at $BUNDLE: run build/gpu-bundle.sh here and carry .gpu/kapre-gpu-bundle.tar.xz" 1
rm -rf "$WORK"; mkdir -p "$WORK"
tar -xJf "$BUNDLE" -C "$WORK" || finish "could not unpack $BUNDLE" 1
APP="$WORK/app"; NATIVE="$APP/runtimes/linux-x64/native"; SHIPPED="$WORK/libLibTorchSharp.shipped.so"
cp "$NATIVE/libLibTorchSharp.so" "$SHIPPED"
# The sample's bundled words (Kapre experiment) travel with the working tree, not in the bundle.
[ -e "$APP/Data" ] || ln -s "$REPO/samples/AudioClassification/Data" "$APP/Data"
log "unpacked $(du -sh "$BUNDLE" | cut -f1) bundle to $WORK"

# (b) PyTorch's libtorch.
eval "$(py - <<'PY' 2> "$OUT/torch-probe.log"
import os, shlex
v = {}
try:
    import torch
    d = os.path.dirname(torch.__file__)
    v = dict(TORCH_DIR=d, TORCH_VERSION_PY=torch.__version__, TORCH_ABI_PY=int(torch.compiled_with_cxx11_abi()),
             TORCH_CUDA=torch.version.cuda or "none",
             TORCH_GPU=torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
    try:
        import torchaudio; v["TORCHAUDIO"] = torchaudio.__version__
    except Exception as e:
        v["TORCHAUDIO"] = "none (%s)" % e
except Exception as e:
    v = dict(TORCH_ERR=repr(e))
for k, x in v.items():
    print("%s=%s" % (k, shlex.quote(str(x))))
PY
)"
: "${TORCH_LIB:=${TORCH_DIR:+$TORCH_DIR/lib}}" "${TORCH_INCLUDE:=${TORCH_DIR:+$TORCH_DIR/include}}"
: "${TORCH_VERSION:=${TORCH_VERSION_PY:-unknown}}" "${TORCH_ABI:=${TORCH_ABI_PY:-1}}"
{ echo "torch ${TORCH_VERSION} (cuda ${TORCH_CUDA:-?}, cxx11 abi ${TORCH_ABI}, torchaudio ${TORCHAUDIO:-?}) at ${TORCH_DIR:-?}"
  echo "TORCH_LIB=$TORCH_LIB TORCH_INCLUDE=$TORCH_INCLUDE ${TORCH_ERR:+TORCH_ERR=$TORCH_ERR}"
  echo "gpu: ${TORCH_GPU:-?}"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3
  echo "cores: $(nproc)"; uname -srm; (c++ --version || g++ --version) 2>&1 | head -1; cmake --version 2>&1 | head -1
  echo "ninja $(ninja --version 2>&1)"; ldd --version 2>&1 | head -1; } > "$OUT/env.txt"
log "torch $TORCH_VERSION (abi $TORCH_ABI, cuda ${TORCH_CUDA:-?}, gpu ${TORCH_GPU:-?}); lib $TORCH_LIB"
[ -d "$TORCH_LIB" ] || finish "no libtorch: ${TORCH_ERR:-set TORCH_LIB}" 1

# (c) Does the shipped bridge resolve?
CHECK="$REPO/build/libtorchsharp/check-symbols.sh"
export SYMBOL_CACHE="$WORK/libtorch-symbols.txt"
check() { bash "$CHECK" "$1" "$TORCH_LIB" "$OUT/unresolved-$2.txt" > "$OUT/symbols-$2.txt" 2>&1; local rc=$?; cat "$OUT/symbols-$2.txt"; return $rc; }
SHIPPED_MSG="$(check "$SHIPPED" shipped)"; SHIPPED_RC=$?
log "shipped bridge (TorchSharp 0.107.0, libtorch 2.10): $SHIPPED_MSG"

# (d) Which bridge: a carried prebuilt one for this PyTorch, the shipped one on 2.10, else build.
CHOICE="" BRIDGE_SO=""
if [ "${BRIDGE:-}" = shipped ]; then CHOICE=shipped BRIDGE_SO="$SHIPPED"
elif [ "${FORCE_BUILD:-0}" != 1 ] && [ -f "$PREBUILT_DIR/libLibTorchSharp.so" ] \
     && [ "$(cat "$PREBUILT_DIR/BUILT_FOR" 2>/dev/null)" = "torch $TORCH_VERSION abi $TORCH_ABI" ]; then
  MSG="$(check "$PREBUILT_DIR/libLibTorchSharp.so" prebuilt)" && CHOICE=prebuilt BRIDGE_SO="$PREBUILT_DIR/libLibTorchSharp.so"
  log "carried prebuilt bridge ($(cat "$PREBUILT_DIR/BUILT_FOR")): $MSG"
elif [ "${FORCE_BUILD:-0}" != 1 ] && [ "$SHIPPED_RC" = 0 ] && [[ "$TORCH_VERSION" == 2.10.* ]]; then
  CHOICE=shipped BRIDGE_SO="$SHIPPED"
fi
if [ -z "$CHOICE" ]; then
  SRC="$WORK/LibTorchSharp-src/src/Native"; BUILD="$WORK/native-build"; BT0=$SECONDS
  [ -d "$SRC/LibTorchSharp" ] || finish "the bundle has no TorchSharp sources (build/fetch-torchsharp-native.sh)" 1
  CXXSTD=17
  grep -qsE '__cplusplus *< *202002L' "$TORCH_INCLUDE/torch/csrc/api/include/torch/all.h" "$TORCH_INCLUDE/c10/macros/Macros.h" \
    "$TORCH_INCLUDE/c10/util/C++17.h" && CXXSTD=20
  GEN=Ninja; KEEP="-k 0"; command -v ninja >/dev/null || { GEN="Unix Makefiles"; KEEP=-k; }
  configure() {
    rm -rf "$BUILD"
    cmake -G "$GEN" -S "$REPO/build/libtorchsharp" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_FLAGS_RELEASE="${TS_OPT:--O1} -DNDEBUG" -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
      -DTS_NATIVE="$SRC" -DTORCH_INCLUDE="$TORCH_INCLUDE" -DTORCH_LIB="$TORCH_LIB" -DTS_CXX11_ABI="$TORCH_ABI" \
      -DTS_CXX_STANDARD="$CXXSTD" > "$OUT/build-configure.log" 2>&1
  }
  log "building the bridge against torch $TORCH_VERSION: C++$CXXSTD, $GEN, $JOBS jobs, ${TS_OPT:--O1}, at most $BUILD_S s"
  : > "$OUT/stubbed.tsv"; BUILT=0
  if configure; then
    for ROUND in 1 2 3 4 5; do
      T=$(budget $((BUILD_S - (SECONDS - BT0))) 200)
      [ "$T" -ge 20 ] || { log "build round $ROUND: no time left"; break; }
      RLOG="$WORK/build-round$ROUND.log"; RT0=$SECONDS
      timeout -k 5 "$T" cmake --build "$BUILD" -j "$JOBS" -- $KEEP > "$RLOG" 2>&1; RC=$?
      { grep -E 'error|undefined reference|FAILED' "$RLOG" | head -3000; echo "--- tail"; tail -50 "$RLOG"; } > "$OUT/build-round$ROUND.log"
      log "build round $ROUND: exit $RC in $((SECONDS - RT0)) s, $(grep -c 'error:' "$RLOG") error lines, $(grep -c 'undefined reference' "$RLOG") undefined references"
      [ "$RC" = 0 ] && { BUILT=1; break; }
      [ "$RC" = 124 ] || [ "$RC" = 137 ] && { log "build round $ROUND timed out"; break; }
      if [ "$CXXSTD" = 17 ] && grep -qE 'C\+\+20|c\+\+20' "$RLOG"; then
        CXXSTD=20; log "libtorch's headers want C++20: reconfiguring"; configure || break; continue
      fi
      py "$REPO/build/libtorchsharp/stub-failed.py" "$SRC/LibTorchSharp" "$RLOG" "$OUT/stubbed.tsv" > "$OUT/stub-round$ROUND.log" 2>&1 \
        || { log "errors outside any function: cannot stub (see build-round$ROUND.log)"; break; }
      log "stubbed: $(head -1 "$OUT/stub-round$ROUND.log")"
    done
  else
    log "CMake configure failed: $(tail -5 "$OUT/build-configure.log" | tr '\n' ' ')"
  fi
  if [ "$BUILT" = 1 ]; then
    # (e) Next to the app, and in $OUT/prebuilt for the next run (carry it as .gpu/prebuilt).
    mkdir -p "$OUT/prebuilt"
    strip --strip-unneeded -o "$OUT/prebuilt/libLibTorchSharp.so" "$BUILD/libLibTorchSharp.so" 2>/dev/null \
      || cp "$BUILD/libLibTorchSharp.so" "$OUT/prebuilt/"
    echo "torch $TORCH_VERSION abi $TORCH_ABI" > "$OUT/prebuilt/BUILT_FOR"
    cp "$OUT/stubbed.tsv" "$OUT/prebuilt/"
    CHOICE=built BRIDGE_SO="$OUT/prebuilt/libLibTorchSharp.so"
    log "built the bridge in $((SECONDS - BT0)) s ($(du -h "$BRIDGE_SO" | cut -f1)); $(wc -l < "$OUT/stubbed.tsv") functions stubbed (stubbed.tsv)"
  else
    log "the bridge did not build in $((SECONDS - BT0)) s: falling back to the shipped one"
    CHOICE=shipped-fallback BRIDGE_SO="$SHIPPED"
  fi
fi
[ "$BRIDGE_SO" = "$NATIVE/libLibTorchSharp.so" ] || cp "$BRIDGE_SO" "$NATIVE/libLibTorchSharp.so"

# (f) Re-check, then the runs.
FINAL_MSG="$(check "$NATIVE/libLibTorchSharp.so" final)"
log "bridge in use: $CHOICE: $FINAL_MSG"
[ "${NO_RUN:-0}" = 1 ] && finish "NO_RUN=1: stopped before the runs"
export DOTNET_ROOT="$WORK/dotnet" PATH="$WORK/dotnet:$PATH" LD_LIBRARY_PATH="$TORCH_LIB:${LD_LIBRARY_PATH:-}"
DLL="$APP/Microsoft.ML.Audio.Gpu.Benchmarks.dll"
run_dotnet() { # LABEL CAP RESERVE ARGS...: under timeout; once more without LD_BIND_NOW if libtorch's own binding fails
  local label=$1 cap=$2 reserve=$3; shift 3
  local t; t=$(budget "$cap" "$reserve"); [ "$t" -ge 20 ] || { log "$label: skipped, no time left"; return; }
  local s=$SECONDS; timeout -k 5 "$t" "$WORK/dotnet/dotnet" "$DLL" "$@" > "$OUT/$label.log" 2>&1; local rc=$?
  log "$label: exit $rc in $((SECONDS - s)) s (limit $t s)"
  if [ "$rc" != 0 ] && grep -q "undefined symbol" "$OUT/$label.log" && ! grep "undefined symbol" "$OUT/$label.log" | grep -q LibTorchSharp; then
    t=$(budget "$cap" "$reserve"); [ "$t" -ge 20 ] || return
    s=$SECONDS; env -u LD_BIND_NOW timeout -k 5 "$t" "$WORK/dotnet/dotnet" "$DLL" "$@" > "$OUT/$label-lazy.log" 2>&1; rc=$?
    log "$label: again without LD_BIND_NOW (a libtorch library, not the bridge, missed a symbol): exit $rc in $((SECONDS - s)) s"
  fi
}
run_dotnet parity 60 160 --parity --gpu "$GPU" --out "$OUT/results-parity.md" --dump "$OUT/parity"
T=$(budget 60 100)
if [ -s "$OUT/parity/parity.json" ] && [ "$T" -ge 20 ]; then
  CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-$GPU}" timeout -k 5 "$T" env -u LD_BIND_NOW "$PYTHON" "$WORK/parity-torchaudio.py" "$OUT/parity" \
    > "$OUT/results-parity-torchaudio.md" 2> "$OUT/parity-torchaudio.log"
  log "parity-torchaudio.py: exit $?"
fi
# The test project's CUDA-only tests (category Cuda: pinned staging, the GPU defaults, libtorch's out-of-memory message,
# training on the device), through the app: the device has no .NET SDK to run dotnet test.
run_dotnet cuda-tests 120 220 --cuda-tests --gpu "$GPU" --out "$OUT/results-cuda-tests.md"
[ -s "$OUT/results-cuda-tests.md" ] && log "CUDA tests: $(tail -1 "$OUT/results-cuda-tests.md")"
run_dotnet dotnet-bench 240 100 --gpu "$GPU" --runs "$RUNS" --out "$OUT/results-dotnet.md"
T=$(budget 90 40); S=$SECONDS
if [ "$T" -ge 20 ]; then
  CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-$GPU}" timeout -k 5 "$T" env -u LD_BIND_NOW "$PYTHON" "$WORK/gpu-compare.py" \
    > "$OUT/results-torch.md" 2> "$OUT/torch-compare.log"
  log "gpu-compare.py: exit $? in $((SECONDS - S)) s (limit $T s)"
else log "gpu-compare.py: skipped, no time left"; fi
# Training examples per second of each network through the real trainer (log-mel features of the sample's shape).
run_dotnet train-speed 90 120 --train-speed --gpu "$GPU" --rows 4000 --epochs 3 --out "$OUT/results-train-speed.md"
run_dotnet kapre 120 5 --kapre --gpu "$GPU" --epochs 6 --out "$OUT/results-kapre.md"
# Both fall back to the CPU when TorchSharp sees no CUDA: say so rather than pass CPU numbers off as GPU ones.
grep -qs "fell back to the CPU" "$OUT/results-parity.md" && log "WARNING: the parity run fell back to the CPU: TorchSharp saw no CUDA (parity.log)"
grep -qs "device cpu" "$OUT/results-dotnet.md" && log "WARNING: the .NET benchmark ran on the CPU: TorchSharp saw no CUDA (dotnet-bench.log)"
grep -qs "cores, CPU;" "$OUT/results-kapre.md" && log "WARNING: the Kapre experiment ran on the CPU: TorchSharp saw no CUDA (kapre.log)"
grep -qs "cores, CPU," "$OUT/results-train-speed.md" && log "WARNING: the training speed ran on the CPU: TorchSharp saw no CUDA (train-speed.log)"
grep -qs "is_available() = False" "$OUT/results-cuda-tests.md" && log "WARNING: the CUDA tests were skipped: TorchSharp saw no CUDA (cuda-tests.log)"
finish "bridge $CHOICE"
