#!/usr/bin/env bash
# Reference figures for the real-world files that build/fetch-audio-samples.sh fetches (not committed): for each file,
# what an independent decoder makes of it. Written to real-files.tsv (committed), read by RealFileTests.
#   file        path under artifacts/audio-samples/
#   decoder     flac -d (FLAC), ffmpeg (MP3), oggdec (Vorbis: ffmpeg 5.1 does not trim a last page to its granule
#               position), sox (AIFF)
#   channels, rate, frames   of that decode
#   rms_db      per channel, comma-separated: SoX's "RMS lev dB" of that decode (2 decimals)
# FLAC is also checked bit for bit by its own MD5 signature, which every one of these files carries.
#
# Made with the tool versions of generate.sh. Run after build/fetch-audio-samples.sh:
#   bash test/Microsoft.ML.Audio.Gpu.Tests/Fixtures/formats/real-files.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
samples="$root/artifacts/audio-samples"
[ -d "$samples" ] || { echo "run build/fetch-audio-samples.sh first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out="$here/real-files.tsv"
printf 'file\tdecoder\tchannels\trate\tframes\trms_db\n' > "$out"
cd "$samples"
find . -type f \( -name '*.flac' -o -name '*.aiff' -o -name '*.mp3' -o -name '*.ogg' \) | sed 's|^\./||' | LC_ALL=C sort | while read -r f; do
  case "$f" in
    *.flac) decoder=flac; flac -s -f -d -o "$tmp/ref.wav" "$f" ;;
    *.mp3)  decoder=ffmpeg; ffmpeg -nostdin -v error -y -i "$f" -c:a pcm_f32le "$tmp/ref.wav" ;;
    *.ogg)  decoder=oggdec; oggdec --quiet -b 16 -o "$tmp/ref.wav" "$f" ;;
    *.aiff) decoder=sox; sox "$f" "$tmp/ref.wav" ;;
  esac
  # SoX prints one column per channel, after an "Overall" one when there are several.
  rms=$(sox "$tmp/ref.wav" -n stats 2>&1 | awk '/^RMS lev dB/ { s = NF > 4 ? 5 : 4; for (i = s; i <= NF; i++) printf "%s%s", $i, (i < NF ? "," : "") }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$decoder" "$(soxi -c "$tmp/ref.wav" 2>/dev/null)" "$(soxi -r "$tmp/ref.wav" 2>/dev/null)" \
    "$(soxi -s "$tmp/ref.wav" 2>/dev/null)" "$rms" >> "$out"
done
wc -l "$out"
