#!/usr/bin/env bash
# arrange_like_real_sets.sh OUT
#
# Makes the three development sets of docs/training.md from generate_tts_words.sh output, laid out and named as real
# recordings are, so that the sample's split meets the conventions it must handle:
#
#   OUT/digits-train, OUT/digits-test   the Free Spoken Digit Dataset's layout: folders 0..9, files
#                                       <digit>_<speaker>_<take>.wav, 5 speakers x 60 takes; takes 1-6 of every speaker
#                                       and digit are the held-out recordings (300), the rest train (2,700)
#   OUT/commands-train, OUT/commands-test
#                                       11 commands, one person's recordings named by time, audio_<time><random>.wav or
#                                       audio_<time><random>_.wav (no speaker in the name); 10 per command held out
#   OUT/voice-train, OUT/voice-test     the digits of 4 speakers to train, all 600 recordings of the 5th (kal) to test:
#                                       a voice never heard
#
# Files are hard links into OUT/tts-digits and OUT/tts-commands. Seeded: the same names every run.
# Takes about 40 minutes on 2 cores (the synthesis of 4,100 clips); nothing here is committed.
set -euo pipefail
export LC_ALL=C
OUT="${1:?usage: arrange_like_real_sets.sh OUT}"
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$OUT"
[ -d "$OUT/tts-digits" ] || bash "$HERE/generate_tts_words.sh" "$OUT/tts-digits" digits 60
[ -d "$OUT/tts-commands" ] || bash "$HERE/generate_tts_words.sh" "$OUT/tts-commands" commands 20

rm -rf "$OUT"/digits-train "$OUT"/digits-test "$OUT"/commands-train "$OUT"/commands-test "$OUT"/voice-train "$OUT"/voice-test
python3 - "$OUT" <<'EOF'
import os, random, re, sys
out = sys.argv[1]
words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
for digit, word in enumerate(words):
    for name in sorted(os.listdir(f"{out}/tts-digits/{word}")):
        speaker, take = re.match(r"(\w+)-v(\d+)_\w+\.wav", name).groups()
        source = f"{out}/tts-digits/{word}/{name}"
        target = f"{digit}_{speaker}_{take}.wav"
        held_out = int(take) <= 6
        for folder, wanted in ((f"digits-{'test' if held_out else 'train'}", True),
                               ("voice-test", speaker == "kal"), ("voice-train", speaker != "kal" and not held_out)):
            if wanted:
                os.makedirs(f"{out}/{folder}/{digit}", exist_ok=True)
                os.link(source, f"{out}/{folder}/{digit}/{target}")

rng = random.Random(3)
count = 0
for word in sorted(os.listdir(f"{out}/tts-commands")):
    names = sorted(os.listdir(f"{out}/tts-commands/{word}"))
    rng.shuffle(names)
    for i, name in enumerate(names):
        folder = "commands-test" if i < 10 else "commands-train"
        count += 1
        stamp = f"2024{(count * 7919) % 10**8:08d}{rng.randrange(16**6):06x}"
        target = f"audio_{stamp}_.wav" if rng.random() < 0.2 else f"audio_{stamp}.wav"
        os.makedirs(f"{out}/{folder}/{word}", exist_ok=True)
        os.link(f"{out}/tts-commands/{word}/{name}", f"{out}/{folder}/{word}/{target}")
EOF
for set in digits-train digits-test commands-train commands-test voice-train voice-test; do
  echo "arrange_like_real_sets: $OUT/$set: $(find "$OUT/$set" -name '*.wav' | wc -l) files"
done
