#!/usr/bin/env bash
# Real-world WAV fixtures for the IO tests, written by SoX (an independent encoder), plus what SoX itself reads back.
#
# Made with SoX v14.4.2 (Debian 12). Run from anywhere: bash test/Microsoft.ML.Audio.Gpu.Tests/Fixtures/audio/generate.sh
# Output, next to this script:
#   *.wav          the fixtures (about 130 KB in all)
#   *.dat          SoX's own decoding of each supported file's first 32 frames (`sox FILE -t dat`): time, then one
#                  value per channel in [-1, 1]
#   manifest.tsv   one line per file: name, channels, rate, frames, bits, encoding (as `soxi` reports them; frames as
#                  counted by SoX reading the whole file, since a piped file's header does not say), the
#                  sine frequencies per channel (amplitude 0.5, phase 0: x[n] = 0.5 sin(2 pi f n / rate)), and whether
#                  the library supports it
#
# Every signal is made at the file's rate (-r before -n: no resampling) with -D (no dither), so the stored values are
# the formula rounded to the file's precision.
set -euo pipefail
cd "$(dirname "$0")"
rm -f ./*.wav ./*.dat manifest.tsv

# name  seconds  channels  sox-encoding-options  frequencies(comma-separated, one per channel)  supported
fixtures=(
  "pcm16_stereo_8k     1     2  -b16_-esigned-integer    440,1000      yes"
  "pcm24_stereo_8k     0.5   2  -b24_-esigned-integer    440,1000      yes"
  "pcm32_mono_8k       0.25  1  -b32_-esigned-integer    440           yes"
  "pcm8u_mono_8k       1     1  -b8_-eunsigned-integer   440           yes"
  "pcm16_3ch_8k        0.25  3  -b16_-esigned-integer    300,500,700   yes"
  "float32_mono_8k     0.5   1  -b32_-efloating-point    440           yes"
  "float64_mono_8k     0.25  1  -b64_-efloating-point    440           yes"
  "ulaw_mono_8k        0.5   1  -eu-law                  440           yes"
  "alaw_mono_8k        0.5   1  -ea-law                  440           yes"
  "ima_adpcm_mono_8k   0.1   1  -eima-adpcm              440           no"
  "gsm_mono_8k         0.1   1  -egsm-full-rate          440           no"
)

printf 'name\tchannels\trate\tframes\tbits\tencoding\tfrequencies\tsupported\n' > manifest.tsv

add() { # name file frequencies supported
  local file=$2 channels samples
  channels=$(soxi -c "$file")
  samples=$(sox "$file" -n stat 2>&1 | awk '/^Samples read/ { print $3 }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$channels" "$(soxi -r "$file")" "$((samples / channels))" \
    "$(soxi -b "$file")" "$(soxi -e "$file")" "$3" "$4" >> manifest.tsv
  if [ "$4" = yes ]; then sox "$file" -t dat "${1}.dat" trim 0 32s; fi
}

for line in "${fixtures[@]}"; do
  read -r name seconds channels encoding frequencies supported <<< "$line"
  sines=$(echo "$frequencies" | tr ',' '\n' | sed 's/^/sine /' | tr '\n' ' ')
  # shellcheck disable=SC2086
  sox -D -r 8000 -n -c "$channels" ${encoding//_/ } "$name.wav" synth "$seconds" $sines vol 0.5
  add "$name" "$name.wav" "$frequencies" "$supported"
done

# Written to a pipe, SoX cannot seek back to fill in the sizes: the data chunk says 0x7FFFF000 bytes.
sox -D -r 8000 -n -c 1 -b 16 -e signed-integer -t wav - synth 0.25 sine 440 vol 0.5 2>/dev/null | cat > pcm16_mono_8k_pipe.wav
add pcm16_mono_8k_pipe pcm16_mono_8k_pipe.wav 440 yes

ls -l ./*.wav | awk '{ total += $5 } END { print "wav bytes:", total }'
du -cb ./*.wav ./*.dat manifest.tsv | tail -n 1
