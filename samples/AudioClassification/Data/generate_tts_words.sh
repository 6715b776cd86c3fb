#!/usr/bin/env bash
# generate_tts_words.sh OUT digits|commands [VARIANTS]
#
# Makes a spoken-word set from speech synthesisers built on recordings of real people (not formant synthesis like
# the bundled espeak-ng words): five English speakers, CMU's kal, awb, rms and slt (flite's clustergen and diphone
# voices) and ked (festival's LPC diphones). Each speaker is varied VARIANTS times (default 12) by tempo (0.85-1.15),
# pitch (-250..+250 cents), a room (sox reverb, one in three), background noise (white, pink or brown at 15-35 dB SNR)
# and gain, so that a model cannot learn one exact waveform per word.
#
#   digits:   zero one two three four five six seven eight nine        (10 classes)
#   commands: yes no up down left right on off stop go wow             (11 classes)
#
# Output: OUT/<word>/<speaker>-v<k>_<word>.wav, 16 kHz mono 16-bit, at most 1.0 s (leading and trailing silence
# trimmed to 50 ms), so the sample's split by speaker takes "<speaker>-v<k>" as the speaker. For a held-out test
# of unseen voices, split by the part before "-v" (the real speaker), as the transfer-learning benchmark does.
# Seeded: the same arguments give the same files on the same package versions.
#
# Prerequisites (Debian):  apt-get install flite festival festvox-kdlpc16k sox
# Nothing here is committed: the data is made when needed (about 1 minute for 600 files on 2 cores).
set -euo pipefail
export LC_ALL=C

OUT="${1:?usage: generate_tts_words.sh OUT digits|commands [VARIANTS]}"
SET="${2:?usage: generate_tts_words.sh OUT digits|commands [VARIANTS]}"
VARIANTS="${3:-12}"
case "$SET" in
  digits) WORDS=(zero one two three four five six seven eight nine) ;;
  commands) WORDS=(yes no up down left right on off stop go wow) ;;
  *) echo "generate_tts_words: the set must be digits or commands, got '$SET'" >&2; exit 2 ;;
esac
for tool in flite text2wave sox; do
  command -v "$tool" >/dev/null || { echo "generate_tts_words: $tool is missing (apt-get install flite festival festvox-kdlpc16k sox)" >&2; exit 1; }
done

SPEAKERS=(kal awb rms slt ked)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A number in [lo, hi) drawn from a hash of the file's identity: reproducible, independent per file.
draw() { # draw KEY LO HI
  local h; h=$(printf '%s' "$1" | sha256sum | cut -c1-8)
  awk -v h=$((16#$h)) -v lo="$2" -v hi="$3" 'BEGIN { printf "%.4f", lo + (hi - lo) * h / 4294967296 }'
}

synth() { # synth SPEAKER WORD OUT.wav
  case "$1" in
    ked) echo "$2" | text2wave -eval '(voice_ked_diphone)' -o "$3" ;;
    *) flite -voice "$1" -t "$2" -o "$3" ;;
  esac
}

mkdir -p "$OUT"
count=0
for speaker in "${SPEAKERS[@]}"; do
  for word in "${WORDS[@]}"; do
    clean="$work/$speaker-$word.wav"
    synth "$speaker" "$word" "$work/raw.wav"
    # 16 kHz mono, silence trimmed at both ends (the word itself, then 50 ms of margin added back).
    sox "$work/raw.wav" -r 16000 -c 1 -b 16 "$clean" silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse pad 0.05 0.05
    for ((v = 1; v <= VARIANTS; v++)); do
      key="$SET/$speaker/$v/$word"
      tempo=$(draw "$key/tempo" 0.85 1.15)
      cents=$(draw "$key/pitch" -250 250)
      snr=$(draw "$key/snr" 15 35)
      gain=$(draw "$key/gain" -12 -2)
      kind=$(draw "$key/noise" 0 3); kind=${kind%.*}
      noise=(white pink brown); noise=${noise[$kind]}
      room=$(draw "$key/room" 0 3); room=${room%.*}
      dir="$OUT/$word"; mkdir -p "$dir"
      file="$dir/$speaker-v${v}_$word.wav"
      effects=(tempo -s "$tempo" pitch "$cents")
      [ "$room" = 0 ] && effects+=(reverb 30 50 40)
      sox -V1 "$clean" "$work/voice.wav" "${effects[@]}" trim 0 1.0
      len=$(soxi -D "$work/voice.wav")
      rms=$(sox "$work/voice.wav" -n stat 2>&1 | awk '/RMS     amplitude/ { print $3 }')
      noise_rms=$(awk -v r="$rms" -v s="$snr" 'BEGIN { printf "%.6f", r / 10^(s / 20) }')
      # Noise of the word's length at the drawn SNR (a unit-RMS noise scaled: synth white noise has RMS 1/sqrt(3)).
      sox -n -r 16000 -c 1 -b 16 "$work/noise.wav" synth "$len" "${noise}noise" vol "$(awk -v n="$noise_rms" 'BEGIN { printf "%.6f", n * 1.732 }')"
      sox -m "$work/voice.wav" "$work/noise.wav" -b 16 "$file" gain -n "$gain"
      count=$((count + 1))
    done
  done
done
echo "generate_tts_words: $count files of ${#WORDS[@]} words by ${#SPEAKERS[@]} speakers x $VARIANTS variants in $OUT"
