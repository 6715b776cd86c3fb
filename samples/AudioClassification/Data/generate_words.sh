#!/usr/bin/env bash
# generate_words.sh: makes the sample's spoken-word training data, Data/words/.
#
# What: 10 classes of isolated English words, like Google Speech Commands:
#   yes no up down left right on off stop go
# one folder per class, as ML.NET's image samples lay out their data (Data/words/<word>/<speaker>_<word>.wav),
# 40 synthetic speakers, one file per speaker and word (400 files, about 3.5 MB), plus Data/words/manifest.csv.
# A "speaker" is one espeak-ng English voice (accent) plus one voice variant (timbre), e.g. en-gb-scotland+m2; in file
# names the "+" becomes "-" (en-gb-scotland-m2_yes.wav), so the speaker id is the part of the file name before the
# last "_". Every variant is used by one speaker only, so a split by speaker holds out whole voices.
#
# Per file, drawn from a seeded hash of (SEED, speaker, word), so the output is the same on every run and one file does
# not depend on the others:
#   espeak-ng speed 120-200 wpm (-s), pitch 25-75 (-p), amplitude 50-100 (-a);
#   leading silence 0-250 ms;
#   background noise: white, pink or brown (sox synth, a window of a fixed 30 s noise bed), mixed in with sox -m at an
#   SNR of 10-30 dB (speech RMS over the trimmed word against the noise RMS);
#   in 30% of the files an effect on the mix: 15% "reverb" (sox reverb 20 50 25: a small, mild room), 15% "telephone"
#   (sox sinc 300-3400: the telephone band);
#   gain -12..0 dB on the mix (after a fixed -2 dB of headroom, so nothing clips).
# Output: mono, 16-bit PCM WAV at 8000 Hz, trailing silence trimmed (50 ms kept after the word), at most 1.0 s long
# (the leading silence is shortened first; a word is cropped only if the word alone is longer); files shorter than
# 0.3 s get a longer leading silence.
#
# manifest.csv, one row per file, speaker by speaker:
#   file,word,speaker,voice,variant,speed,pitch,gain_db,noise_type,snr_db,effect,duration_s,amplitude,lead_ms
# file is relative to Data/words; speaker is the file-name speaker id; voice and variant are espeak-ng's names;
# speed in wpm; pitch 0-99; gain_db and snr_db in dB; noise_type white|pink|brown; effect none|reverb|telephone;
# duration_s of the final file; amplitude is espeak-ng's -a; lead_ms the leading silence actually used.
#
# Checks (a speaker whose variant is missing, or with a file that fails, is rejected as a whole and replaced by the
# same voice with the next reserve variant): espeak-ng succeeded; clean word RMS >= 0.005 and length >= 0.1 s; final
# file RMS >= 0.001, 0.2 s <= duration <= 1.0 s, |peak| < 0.99 (no clipping). At the end it prints soxi and sox stat
# for a few files, the per-class counts and the total size.
#
# Idempotent: it builds the set in a temporary folder, then deletes everything in Data/words except README.md and moves
# the new set in. Runs from any working directory.
#
# Prerequisites (Debian/Ubuntu):  apt-get install espeak-ng sox      (plus bash 4+, coreutils' sha256sum, awk)
# Made with: eSpeak NG 1.51 (Debian bookworm 1.51+dfsg-10+deb12u2) and SoX v14.4.2 (14.4.2+git20190427-3.5).
# Other versions run too, but their audio need not be bit-identical to the committed files.
# Runtime: about 20 s on an idle 2-core machine (50 s while it also builds); one process at a time.
#
# Usage:  bash samples/AudioClassification/Data/generate_words.sh      (SEED=... draws a different set)
set -euo pipefail
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$HERE/words"
SEED="${SEED:-kapre-mlnet-words-v1}"
RATE=8000
WORDS=(yes no up down left right on off stop go)
MAX_S=1.0       # longest file
MIN_S=0.3       # shortest file (leading silence is stretched to reach it)
TAIL_S=0.05     # kept after the word's end
HEADROOM_DB=-2  # before the random gain: keeps speech + noise + effect below full scale
BED_S=30        # length of each noise bed

# The 40 speakers: 8 gmw English voices x 5 variants (14 female, 26 male variants; each variant once).
SPEAKERS=(
  en-us+f1            en-us+belinda            en-us+m3            en-us+klatt          en-us+Mike
  en-gb+f2            en-gb+linda              en-gb+m1            en-gb+klatt2         en-gb+rob
  en-gb-scotland+f3   en-gb-scotland+anika     en-gb-scotland+m2   en-gb-scotland+michel en-gb-scotland+Denis
  en-gb-x-gbclan+f4   en-gb-x-gbclan+Annie     en-gb-x-gbclan+m4   en-gb-x-gbclan+adam  en-gb-x-gbclan+grandpa
  en-gb-x-rp+f5       en-gb-x-rp+aunty         en-gb-x-rp+m5       en-gb-x-rp+klatt3    en-gb-x-rp+robert
  en-gb-x-gbcwmd+Andrea en-gb-x-gbcwmd+steph   en-gb-x-gbcwmd+m6   en-gb-x-gbcwmd+david en-gb-x-gbcwmd+quincy
  en-029+shelby       en-029+m7                en-029+klatt4       en-029+Andy          en-029+travis
  en-us-nyc+grandma   en-us-nyc+m8             en-us-nyc+Nguyen    en-us-nyc+edward     en-us-nyc+Storm
)
# Used, in order, in place of a rejected speaker's variant (same voice).
RESERVE=(Alex victor max iven4 sandro pablo Henrique Mario john Lee benjamin klatt5 steph2 Gene)
# Left out on purpose: whisper, whisperf, caleb (unvoiced, whispered), croak (heavy flutter), fast (a speed test, not a
# voice), zac and kaukovalta (child-like / odd formants, least recognisable in a check with pocketsphinx), Marco,
# Alicia, RicishayMax*, robosoft*, UniRobot, anikaRobot, announcer, Demonic (echo or robotic effects), "Mr serious"
# (a space in its name); the other variants are simply not needed. The mbrola voices (mb/...) need the mbrola program
# and voice packages (not in Debian main) and are not used.

die() { echo "generate_words.sh: $*" >&2; exit 1; }
for tool in espeak-ng sox soxi sha256sum awk; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install espeak-ng sox)"
done
[[ "$(basename "$OUT")" == words && "$(basename "$HERE")" == Data ]] || die "unexpected location $OUT"
ESPEAK_VER="$(espeak-ng --version | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+/) { print $i; exit }}')"
SOX_VER="$(sox --version | awk '{print $NF}')"
ESPEAK_DATA="$(espeak-ng --version | sed -n 's/.*Data at: *//p')"
[[ -d "$ESPEAK_DATA/voices/!v" ]] || die "espeak-ng's variant folder $ESPEAK_DATA/voices/!v not found"
echo "espeak-ng $ESPEAK_VER, sox $SOX_VER, seed '$SEED'"
[[ "$ESPEAK_VER" == 1.51* && "$SOX_VER" == v14.4.2 ]] ||
  echo "note: made with espeak-ng 1.51 and sox v14.4.2; these versions may give slightly different audio"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
STAGE="$TMP/words"
mkdir -p "$STAGE" "$TMP/w"
for w in "${WORDS[@]}"; do mkdir -p "$STAGE/$w"; done
START=$SECONDS

# Float math helper: calc 'expr' -> number (awk, C locale).
calc() { awk "BEGIN { printf \"%s\", $1 }"; }
# RMS and peak of a file, from sox stat.
stat_of() { sox "$1" -n stat 2>&1 | awk -v k="$2" '$0 ~ k { print $NF }'; }

NOISES=(white pink brown)
# Noise beds, one per colour, 30 s, float; sox -R seeds its generator, so they are the same on every run.
declare -A BED_RMS
for n in "${NOISES[@]}"; do
  sox -R -n -r $RATE -c 1 -b 32 -e floating-point "$TMP/bed_$n.wav" synth $BED_S ${n}noise
  BED_RMS[$n]="$(stat_of "$TMP/bed_$n.wav" 'RMS +amplitude')"
done

# gen_speaker VOICE VARIANT: writes the 10 files of one speaker to $STAGE and its manifest rows to $TMP/rows;
# returns 1 (and leaves nothing) if any file fails a check.
gen_speaker() {
  local voice="$1" variant="$2" spk="$1-$2" rows="$TMP/rows.$1-$2" w h
  : >"$rows"
  # espeak-ng falls back to the plain voice, silently, for an unknown variant.
  [[ -f "$ESPEAK_DATA/voices/!v/$variant" ]] || { echo "  reject $spk: no variant '$variant' in $ESPEAK_DATA/voices/!v"; return 1; }
  for w in "${WORDS[@]}"; do
    h="$(printf '%s|%s|%s' "$SEED" "$spk" "$w" | sha256sum)"
    # 16-bit uniforms u0..u8 from the hash.
    local -a u=()
    local i
    for i in 0 1 2 3 4 5 6 7 8; do u[i]=$((16#${h:i*4:4})); done
    local speed=$((120 + u[0] * 81 / 65536)) pitch=$((25 + u[1] * 51 / 65536)) amp=$((50 + u[2] * 51 / 65536))
    local lead_ms=$((u[3] * 251 / 65536))
    local gain_db snr_db noise effect off
    gain_db="$(calc "-12 + ${u[4]} * 12 / 65535" | awk '{ printf "%.1f", $1 }')"
    noise="${NOISES[u[5] * 3 / 65536]}"
    snr_db="$(calc "10 + ${u[6]} * 20 / 65535" | awk '{ printf "%.1f", $1 }')"
    if ((u[7] < 9830)); then effect=reverb; elif ((u[7] < 19661)); then effect=telephone; else effect=none; fi
    off="$(calc "${u[8]} * ($BED_S - 2) / 65535" | awk '{ printf "%.3f", $1 }')"

    local raw="$TMP/w/raw.wav" sp="$TMP/w/sp.wav" spp="$TMP/w/spp.wav" nz="$TMP/w/nz.wav" mix="$TMP/w/mix.wav"
    local file="$w/${spk}_$w.wav"
    espeak-ng -v "$voice+$variant" -s "$speed" -p "$pitch" -a "$amp" -w "$raw" "$w" 2>"$TMP/w/err" ||
      { echo "  reject $spk: espeak-ng failed on '$w': $(head -c 200 "$TMP/w/err")"; return 1; }
    # To 8 kHz float, leading and trailing silence trimmed (espeak-ng's silence is digital zero), headroom applied.
    sox -R "$raw" -b 32 -e floating-point "$sp" rate -v $RATE \
      silence 1 0.005 -50d reverse silence 1 0.005 -50d reverse gain $HEADROOM_DB 2>/dev/null ||
      { echo "  reject $spk: sox failed on '$w'"; return 1; }
    local sp_len sp_rms
    sp_len="$(soxi -D "$sp" 2>/dev/null || echo 0)"
    sp_rms="$(stat_of "$sp" 'RMS +amplitude')"
    if [[ "$(calc "($sp_len >= 0.1 && $sp_rms >= 0.005 * 10^($HEADROOM_DB / 20)) ? 1 : 0")" != 1 ]]; then
      echo "  reject $spk: '$w' is ${sp_len}s long, RMS $sp_rms (silent or broken)"; return 1
    fi
    # Lead and total length, in samples: at most MAX_S (shorten the lead, then crop), at least MIN_S (lengthen the lead).
    local sp_n lead_n tail_n total_n
    sp_n="$(soxi -s "$sp")"
    read -r lead_n tail_n total_n < <(awk -v l="$lead_ms" -v s="$sp_n" -v r=$RATE -v t=$TAIL_S -v mx=$MAX_S -v mn=$MIN_S 'BEGIN {
      l = int(l * r / 1000 + 0.5); t = int(t * r + 0.5); mx = int(mx * r + 0.5); mn = int(mn * r + 0.5)
      if (l + s + t > mx) l = mx - s - t; if (l < 0) l = 0
      if (l + s + t < mn) l = mn - s - t
      tot = l + s + t; if (tot > mx) tot = mx
      printf "%d %d %d\n", l, t, tot }')
    sox "$sp" "$spp" pad "${lead_n}s" "${tail_n}s" trim 0 "${total_n}s"
    local k
    k="$(calc "$sp_rms / 10^($snr_db / 20) / ${BED_RMS[$noise]}")"
    sox "$TMP/bed_$noise.wav" "$nz" trim "$off" "${total_n}s" vol "$k"
    local fx=()
    case $effect in reverb) fx=(reverb 20 50 25) ;; telephone) fx=(sinc 300-3400) ;; esac
    sox -V1 -R -m -v 1 "$spp" -v 1 "$nz" "$mix" "${fx[@]}" gain "$gain_db" trim 0 "${total_n}s"
    sox -R "$mix" -r $RATE -c 1 -b 16 -e signed-integer "$STAGE/$file"

    local dur rms mx mn
    dur="$(soxi -D "$STAGE/$file")"
    rms="$(stat_of "$STAGE/$file" 'RMS +amplitude')"
    mx="$(stat_of "$STAGE/$file" 'Maximum amplitude')"
    mn="$(stat_of "$STAGE/$file" 'Minimum amplitude')"
    if [[ "$(calc "($dur >= 0.2 && $dur <= $MAX_S && $rms >= 0.001 && $mx < 0.99 && $mn > -0.99) ? 1 : 0")" != 1 ]]; then
      echo "  reject $spk: $file fails the checks (duration $dur s, RMS $rms, max $mx, min $mn)"; return 1
    fi
    printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%.3f,%s,%s\n' "$file" "$w" "$spk" "$voice" "$variant" "$speed" "$pitch" \
      "$gain_db" "$noise" "$snr_db" "$effect" "$dur" "$amp" "$((lead_n * 1000 / RATE))" \
      >>"$rows"
  done
}

MANIFEST="$STAGE/manifest.csv"
echo "file,word,speaker,voice,variant,speed,pitch,gain_db,noise_type,snr_db,effect,duration_s,amplitude,lead_ms" >"$MANIFEST"
next_reserve=0
n_spk=0
for s in "${SPEAKERS[@]}"; do
  voice="${s%%+*}" variant="${s#*+}"
  while ! gen_speaker "$voice" "$variant"; do
    rm -f "$STAGE"/*/"$voice-${variant}_"*.wav
    ((next_reserve < ${#RESERVE[@]})) || die "out of reserve variants"
    variant="${RESERVE[next_reserve]}"; next_reserve=$((next_reserve + 1))
    echo "  trying $voice+$variant instead"
  done
  cat "$TMP/rows.$voice-$variant" >>"$MANIFEST"
  n_spk=$((n_spk + 1))
  printf '  %2d/%d %s\n' "$n_spk" "${#SPEAKERS[@]}" "$voice+$variant"
done

# Replace the old set (everything but README.md) with the new one.
find "$OUT" -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} + 2>/dev/null || true
mkdir -p "$OUT"
for w in "${WORDS[@]}"; do mv "$STAGE/$w" "$OUT/$w"; done
mv "$MANIFEST" "$OUT/manifest.csv"

echo
echo "A few files (soxi, sox stat):"
for f in "yes/en-us-f1_yes.wav" "stop/en-gb-scotland-m2_stop.wav" "left/en-029-klatt4_left.wav"; do
  [[ -f "$OUT/$f" ]] || continue
  echo "--- $f: $(grep "^$f," "$OUT/manifest.csv")"
  soxi "$OUT/$f" | grep -E 'Channels|Sample Rate|Precision|Duration|Encoding'
  sox "$OUT/$f" -n stat 2>&1 | grep -E 'Length|Maximum amplitude|Minimum amplitude|RMS +amplitude'
done
echo
echo "Files per class:"
for w in "${WORDS[@]}"; do printf '  %-5s %d\n' "$w" "$(find "$OUT/$w" -name '*.wav' | wc -l)"; done
echo "Speakers: $n_spk; files: $(find "$OUT" -name '*.wav' | wc -l); size: $(du -sh "$OUT" | cut -f1) ($(du -sb "$OUT" | cut -f1) bytes); time: $((SECONDS - START)) s"
