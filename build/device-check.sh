#!/usr/bin/env bash
# The GPU device check as one command, for a CUDA machine with PyTorch and torchaudio but no .NET SDK and no network.
# It uses what the package registries give and nothing built here from third-party sources: the bundle of
# build/gpu-bundle.sh (the bench app with TorchSharp's own libLibTorchSharp.so from NuGet, a .NET runtime, the Python
# scripts, log-mel rows computed on a CPU with NuGet's libtorch-cpu) and the device's PyTorch. From the repository root:
#   bash build/device-check.sh            (results in $OUT, else .gpu/results; summary.md says what ran and what not)
# Steps, all inside BUDGET_S (default 530 s, under the 9 minutes of one device call):
#   1. unpacks .gpu/kapre-gpu-bundle.tar.xz;
#   2. asks PyTorch for its libtorch (torch/lib), version, CUDA, GPU and torchaudio;
#   3. checks whether every symbol TorchSharp 0.107.0's bridge imports (it was built for libtorch 2.10) is defined by that
#      libtorch and the system libraries (build/check-symbols.sh), and says plainly which are not;
#   4. measures what needs no bridge: the library's log-mel rows (computed on a CPU, carried in the bundle) against
#      torchaudio on the GPU (parity-torchaudio.py), and torchaudio/torch ops' own speed on the workloads (gpu-compare.py);
#   5. when the bridge resolves completely: the .NET runs on the GPU with LD_BIND_NOW (parity of every transform against
#      the CPU and of the GPU's log-mel against torchaudio, the test project's CUDA-only tests, the .NET benchmark, the
#      trainer's examples per second, the Kapre experiment), each under timeout. When it does not, they are skipped and
#      the summary says why, unless UNRESOLVED=lazy: then they run with lazy binding (a missing function fails only when
#      called), every result marked as from a bridge with unresolved symbols; PyTorch promises no C++ ABI across minor
#      versions, so only the torchaudio comparison of the GPU's log-mel vouches for such numbers.
# Settings (environment): OUT, GPU (0), RUNS (7), BUDGET_S (530), BUNDLE, KAPRE_WORK (unpack folder, default
# /tmp/kapre-gpu), PYTHON (python3), TORCH_LIB / TORCH_VERSION (instead of asking PyTorch), UNRESOLVED=lazy,
# NO_RUN=1 (stop after the symbol check: for dry runs without a GPU).
set -uo pipefail
T0=$SECONDS
cd "$(dirname "$0")/.."
REPO="$PWD"
BUDGET_S="${BUDGET_S:-530}" GPU="${GPU:-0}" RUNS="${RUNS:-7}"
OUT="${OUT:-$REPO/.gpu/results}"; mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
WORK="${KAPRE_WORK:-${TMPDIR:-/tmp}/kapre-gpu}"
BUNDLE="${BUNDLE:-$REPO/.gpu/kapre-gpu-bundle.tar.xz}"
PYTHON="${PYTHON:-python3}"
SUMMARY="$OUT/summary.md"; : > "$SUMMARY"
log() { echo "- [$((SECONDS - T0)) s] $*" | tee -a "$SUMMARY"; }
# budget CAP RESERVE: seconds for the next step, CAP at most, leaving RESERVE of BUDGET_S for what follows.
budget() { local b=$((BUDGET_S - (SECONDS - T0) - $2)); [ "$b" -gt "$1" ] && b=$1; [ "$b" -lt 0 ] && b=0; echo "$b"; }
finish() { log "done: $1 (total $((SECONDS - T0)) s)"; exit "${2:-0}"; }

# No ICU on the device. PyTorch's own Python runs bind its optional CUDA libraries lazily: never under LD_BIND_NOW.
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
py() { env -u LD_BIND_NOW "$PYTHON" "$@"; }
echo "# Device check $(date -u +%FT%TZ)" >> "$SUMMARY"

# 1. The bundle.
[ -f "$BUNDLE" ] || finish "no bundle at $BUNDLE: run build/gpu-bundle.sh here and carry .gpu/kapre-gpu-bundle.tar.xz" 1
rm -rf "$WORK"; mkdir -p "$WORK"
tar -xJf "$BUNDLE" -C "$WORK" || finish "could not unpack $BUNDLE" 1
APP="$WORK/app"; BRIDGE="$APP/runtimes/linux-x64/native/libLibTorchSharp.so"
# The sample's bundled words (Kapre experiment) travel with the working tree, not in the bundle.
[ -e "$APP/Data" ] || ln -s "$REPO/samples/AudioClassification/Data" "$APP/Data"
log "unpacked $(du -sh "$BUNDLE" | cut -f1) bundle to $WORK"

# 2. PyTorch's libtorch.
eval "$(py - <<'PY' 2> "$OUT/torch-probe.log"
import os, shlex
v = {}
try:
    import torch
    d = os.path.dirname(torch.__file__)
    v = dict(TORCH_DIR=d, TORCH_VERSION_PY=torch.__version__, TORCH_CUDA=torch.version.cuda or "none",
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
: "${TORCH_LIB:=${TORCH_DIR:+$TORCH_DIR/lib}}" "${TORCH_VERSION:=${TORCH_VERSION_PY:-unknown}}"
{ echo "torch ${TORCH_VERSION} (cuda ${TORCH_CUDA:-?}, torchaudio ${TORCHAUDIO:-?}) at ${TORCH_DIR:-?}"
  echo "TORCH_LIB=$TORCH_LIB ${TORCH_ERR:+TORCH_ERR=$TORCH_ERR}"
  echo "gpu: ${TORCH_GPU:-?}"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3
  echo "cores: $(nproc)"; uname -srm; ldd --version 2>&1 | head -1; } > "$OUT/env.txt"
log "torch $TORCH_VERSION (cuda ${TORCH_CUDA:-?}, gpu ${TORCH_GPU:-?}, torchaudio ${TORCHAUDIO:-?}); lib $TORCH_LIB"

# 3. Does TorchSharp's bridge from NuGet resolve against this libtorch?
BRIDGE_OK=0
if [ -d "$TORCH_LIB" ]; then
  SYMBOLS="$(bash "$REPO/build/check-symbols.sh" "$BRIDGE" "$TORCH_LIB" "$OUT/unresolved.txt" 2> "$OUT/symbols.log")"; RC=$?
  echo "$SYMBOLS" > "$OUT/symbols.txt"
  if [ "$RC" = 0 ]; then BRIDGE_OK=1
    log "TorchSharp 0.107.0's bridge (NuGet, built for libtorch 2.10) against torch $TORCH_VERSION: $SYMBOLS: it loads"
  elif [ "$RC" = 1 ]; then
    log "TorchSharp 0.107.0's bridge (NuGet, built for libtorch 2.10) does NOT resolve against torch $TORCH_VERSION: $SYMBOLS; $(grep -c '^_ZN2at4_ops' "$OUT/unresolved.txt") of them at::_ops operators, $(grep -c '@GLIBC' "$OUT/unresolved.txt") versioned C/C++ library symbols (unresolved.txt lists them all, c++filt demangles)"
    c++filt < "$OUT/unresolved.txt" 2>/dev/null | head -40 | sed 's/^/    - /' >> "$SUMMARY"
  else log "symbol check could not run: $(tail -1 "$OUT/symbols.log")"; fi
else
  log "no libtorch found (${TORCH_ERR:-set TORCH_LIB}): no symbol check, no .NET run"
fi
[ "${NO_RUN:-0}" = 1 ] && finish "NO_RUN=1: stopped after the symbol check"

# 4. What needs no bridge: the library's numbers against torchaudio on the GPU, torchaudio's and torch ops' speed.
DEV=cpu; [ "${TORCH_GPU:-none}" != none ] && DEV=cuda:0   # device GPU, the only one CUDA_VISIBLE_DEVICES leaves
T=$(budget 60 100)
if [ "$T" -ge 20 ]; then
  CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-$GPU}" timeout -k 5 "$T" env -u LD_BIND_NOW "$PYTHON" "$WORK/parity-torchaudio.py" \
    "$WORK/cpu-parity" "$DEV" > "$OUT/results-parity-cpu-rows.md" 2> "$OUT/parity-cpu-rows.log"
  log "log-mel rows of the library (CPU, NuGet libtorch) against torchaudio on $DEV: exit $? ($(tail -1 "$OUT/results-parity-cpu-rows.md" 2>/dev/null))"
fi
T=$(budget 90 40); S=$SECONDS
if [ "$T" -ge 20 ]; then
  CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-$GPU}" timeout -k 5 "$T" env -u LD_BIND_NOW "$PYTHON" "$WORK/gpu-compare.py" \
    > "$OUT/results-torch.md" 2> "$OUT/torch-compare.log"
  log "gpu-compare.py (torchaudio and torch ops on the workloads): exit $? in $((SECONDS - S)) s (limit $T s)"
else log "gpu-compare.py: skipped, no time left"; fi

# 5. The .NET runs on the GPU: only where TorchSharp's bridge can run on this libtorch.
if [ "$BRIDGE_OK" = 1 ]; then
  MODE=bound; export LD_BIND_NOW=1   # a symbol that is missing after all fails when the bridge loads, not mid-run
elif [ "${UNRESOLVED:-}" = lazy ] && [ -d "$TORCH_LIB" ]; then
  MODE=lazy; log "UNRESOLVED=lazy: the .NET runs go ahead with lazy binding; their results come from a bridge with unresolved symbols"
else
  finish "the .NET runs on the GPU were skipped: TorchSharp's bridge from NuGet does not load against this libtorch, and no registry serves one that does (libtorch-cuda-12.8-linux-x64, TorchSharp's own CUDA libtorch, is not served here either)"
fi
export DOTNET_ROOT="$WORK/dotnet" PATH="$WORK/dotnet:$PATH" LD_LIBRARY_PATH="$TORCH_LIB:${LD_LIBRARY_PATH:-}"
DLL="$APP/Microsoft.ML.Audio.Gpu.Benchmarks.dll"
run_dotnet() { # LABEL CAP RESERVE ARGS...: under timeout
  local label=$1 cap=$2 reserve=$3; shift 3
  local t; t=$(budget "$cap" "$reserve"); [ "$t" -ge 20 ] || { log "$label: skipped, no time left"; return; }
  local s=$SECONDS; timeout -k 5 "$t" "$WORK/dotnet/dotnet" "$DLL" "$@" > "$OUT/$label.log" 2>&1
  log "$label ($MODE): exit $? in $((SECONDS - s)) s (limit $t s)"
}
run_dotnet parity 60 160 --parity --gpu "$GPU" --out "$OUT/results-parity.md" --dump "$OUT/parity"
T=$(budget 60 100)
if [ -s "$OUT/parity/parity.json" ] && [ "$T" -ge 20 ]; then
  CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-$GPU}" timeout -k 5 "$T" env -u LD_BIND_NOW "$PYTHON" "$WORK/parity-torchaudio.py" "$OUT/parity" \
    > "$OUT/results-parity-torchaudio.md" 2> "$OUT/parity-torchaudio.log"
  log "parity-torchaudio.py on the GPU's rows: exit $?"
fi
# The test project's CUDA-only tests (category Cuda), through the app: the device has no .NET SDK to run dotnet test.
run_dotnet cuda-tests 120 160 --cuda-tests --gpu "$GPU" --out "$OUT/results-cuda-tests.md"
[ -s "$OUT/results-cuda-tests.md" ] && log "CUDA tests: $(tail -1 "$OUT/results-cuda-tests.md")"
run_dotnet dotnet-bench 240 100 --gpu "$GPU" --runs "$RUNS" --out "$OUT/results-dotnet.md"
run_dotnet train-speed 90 60 --train-speed --gpu "$GPU" --rows 4000 --epochs 3 --out "$OUT/results-train-speed.md"
run_dotnet kapre 120 5 --kapre --gpu "$GPU" --epochs 6 --out "$OUT/results-kapre.md"
# The runs fall back to the CPU when TorchSharp sees no CUDA: say so rather than pass CPU numbers off as GPU ones.
grep -qs "fell back to the CPU" "$OUT/results-parity.md" && log "WARNING: the parity run fell back to the CPU: TorchSharp saw no CUDA (parity.log)"
grep -qs "device cpu" "$OUT/results-dotnet.md" && log "WARNING: the .NET benchmark ran on the CPU: TorchSharp saw no CUDA (dotnet-bench.log)"
grep -qs "cores, CPU;" "$OUT/results-kapre.md" && log "WARNING: the Kapre experiment ran on the CPU: TorchSharp saw no CUDA (kapre.log)"
grep -qs "cores, CPU," "$OUT/results-train-speed.md" && log "WARNING: the training speed ran on the CPU: TorchSharp saw no CUDA (train-speed.log)"
grep -qs "is_available() = False" "$OUT/results-cuda-tests.md" && log "WARNING: the CUDA tests were skipped: TorchSharp saw no CUDA (cuda-tests.log)"
finish "bridge $MODE"
