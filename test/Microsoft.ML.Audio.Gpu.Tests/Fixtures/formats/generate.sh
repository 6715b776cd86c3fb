#!/usr/bin/env bash
# Compressed-format fixtures for the IO tests (issue 16): small files written by independent encoders, and each
# decoded by an independent reference decoder. Tests compare AudioDecoder's output with the reference's; they never
# run these tools.
#
# Made on Debian 12 with: flac 1.4.2, SoX v14.4.2, ffmpeg 5.1 (libavcodec's decoders), LAME 3.100,
# opus-tools 0.2 (libopus 1.3.1), vorbis-tools 1.4.2 (oggenc). apt-get install flac sox ffmpeg lame opus-tools vorbis-tools
# Run from anywhere: bash test/Microsoft.ML.Audio.Gpu.Tests/Fixtures/formats/generate.sh
#
# Output, next to this script:
#   NAME.EXT        the fixture (.flac .mp3 .ogg .opus .aiff .aifc)
#   NAME.ref.wav    the reference decode: `flac -d` for FLAC (same bit depth: compared bit for bit), `sox` for AIFF
#                   (same bit depth, exact), `ffmpeg -c:a pcm_f32le` for MP3, `oggdec` for Vorbis and
#                   `opusdec --float` for Opus
#                   (compared within a stated error). They apply the LAME gapless tag, the Opus pre-skip and output
#                   gain, and the Ogg granule positions, so their frame counts are the exact ones.
#   manifest.tsv    name, file, reference, channels, rate, frames (of the reference), comparison (exact, lossy, or
#                   rejected: a file the library refuses, with the reason in its message)
#
# Signals are made by SoX at the file's rate with -R (repeatable noise) and -D (no dither): a sum of sines plus a
# little noise, distinct per channel, so a swapped or mixed channel shows.
set -euo pipefail
cd "$(dirname "$0")"
rm -f ./*.flac ./*.mp3 ./*.ogg ./*.opus ./*.aiff ./*.aifc ./*.wav manifest.tsv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# source NAME RATE CHANNELS SECONDS BITS [ENCODING]: a test signal as WAV in $tmp
source_wav() {
  local name=$1 rate=$2 channels=$3 seconds=$4 bits=$5 encoding=${6:-signed-integer} parts=() c
  for ((c = 0; c < channels; c++)); do
    sox -R -D -r "$rate" -n -c 1 -b 32 -e floating-point "$tmp/ch$c.wav" \
      synth "$seconds" sine $((220 + 110 * c)) sine $((1000 + 330 * c)) synth whitenoise mix vol 0.3
    parts+=("$tmp/ch$c.wav")
  done
  if [ "$channels" -eq 1 ]; then
    sox -R -D "${parts[0]}" -b "$bits" -e "$encoding" "$tmp/$name.wav"
  else
    sox -R -D -M "${parts[@]}" -b "$bits" -e "$encoding" "$tmp/$name.wav"
  fi
}

printf 'name\tfile\treference\tchannels\trate\tframes\tcomparison\n' > manifest.tsv
add() { # name file reference comparison
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(soxi -c "$3" 2>/dev/null)" "$(soxi -r "$3" 2>/dev/null)" "$(soxi -s "$3" 2>/dev/null)" "$4" >> manifest.tsv
}

# --- FLAC: flac's own encoder, decoded by `flac -d` (bit-exact reference) ------------------------------------------
# name rate channels seconds bits flac-options
flacs=(
  "flac16_stereo_44k   44100 2 0.3  16 -5"                     # mid/side or left/side, LPC
  "flac16_stereo_fixed 22050 2 0.2  16 -0"                     # fixed predictors, left/side
  "flac24_mono_48k     48000 1 0.2  24 -8"                     # high LPC orders, 24-bit
  "flac8_mono_8k       8000  1 0.25 8  -5"                     # 8-bit
  "flac12_stereo_16k   16000 2 0.2  12 -5"                     # 12-bit: a sample size code of its own
  "flac20_stereo_32k   32000 2 0.1  20 -5"
  "flac32_mono_44k     44100 1 0.1  32 -5"                     # 32-bit: side channels need 33 bits
  "flac16_6ch_48k      48000 6 0.1  16 -5"                     # 5.1: independent channels
  "flac16_mono_odd     11025 1 0.3  16 --blocksize=1152_-l_12" # blocks that do not divide the length
  "flac16_stereo_ind   44100 2 0.1  16 -5_--no-mid-side"       # independent stereo
)
for line in "${flacs[@]}"; do
  read -r name rate channels seconds bits options <<< "$line"
  source_wav "$name" "$rate" "$channels" "$seconds" "$bits"
  # shellcheck disable=SC2086
  flac -s -f ${options//_/ } $( [ "$bits" = 32 ] || echo "" ) -o "$name.flac" "$tmp/$name.wav"
  flac -s -f -d -o "$name.ref.wav" "$name.flac"
  add "$name" "$name.flac" "$name.ref.wav" exact
done
# Wasted bits: 16-bit audio stored in 24 bits (the low 8 bits are zero in every sample).
source_wav flac24_wasted 16000 1 0.2 16
sox "$tmp/flac24_wasted.wav" -b 24 "$tmp/flac24_wasted24.wav"
flac -s -f -5 -o flac24_wasted.flac "$tmp/flac24_wasted24.wav"
flac -s -f -d -o flac24_wasted.ref.wav flac24_wasted.flac
add flac24_wasted flac24_wasted.flac flac24_wasted.ref.wav exact
# Silence: constant subframes.
sox -D -r 8000 -n -c 2 -b 16 "$tmp/silence.wav" trim 0 0.2
flac -s -f -o flac16_silence.flac "$tmp/silence.wav"
flac -s -f -d -o flac16_silence.ref.wav flac16_silence.flac
add flac16_silence flac16_silence.flac flac16_silence.ref.wav exact

# --- AIFF and AIFF-C: SoX and ffmpeg write, SoX decodes (exact) -------------------------------------------------------
source_wav aiff16 22050 2 0.2 16;  sox "$tmp/aiff16.wav" aiff16_stereo.aiff
source_wav aiff24 44100 1 0.1 24;  sox "$tmp/aiff24.wav" aiff24_mono.aiff
source_wav aiff8 8000 1 0.2 8;     sox "$tmp/aiff8.wav" aiff8_mono.aiff
source_wav aifc16 16000 2 0.2 16;  ffmpeg -v error -i "$tmp/aifc16.wav" -c:a pcm_s16le aifc16_sowt.aifc
source_wav aifcf 16000 1 0.2 32 floating-point; ffmpeg -v error -i "$tmp/aifcf.wav" -c:a pcm_f32be aifc_float32.aifc
for f in aiff16_stereo.aiff aiff24_mono.aiff aiff8_mono.aiff aifc16_sowt.aifc; do
  name=${f%.*}
  sox "$f" -b "$(soxi -b "$f" 2>/dev/null)" "$name.ref.wav"
  add "$name" "$f" "$name.ref.wav" exact
done
ffmpeg -v error -i aifc_float32.aifc -c:a pcm_f32le aifc_float32.ref.wav
add aifc_float32 aifc_float32.aifc aifc_float32.ref.wav exact

# --- Lossy: encoders of their own, decoded by ffmpeg to float ------------------------------------------------------
lossy_ref() { ffmpeg -v error -i "$1" -c:a pcm_f32le "$2"; }
# MP3: LAME (with its gapless tag) at MPEG-1, MPEG-2 and MPEG-2.5 rates; CBR and VBR.
source_wav mp3a 44100 2 0.25 16; lame --quiet -b 128 "$tmp/mp3a.wav" mp3_stereo_44k_cbr.mp3
source_wav mp3b 22050 1 0.3 16; lame --quiet -V 4 "$tmp/mp3b.wav" mp3_mono_22k_vbr.mp3
source_wav mp3c 8000 1 0.3 16;  lame --quiet -b 32 "$tmp/mp3c.wav" mp3_mono_8k.mp3
# Without the Xing/LAME frame (no gapless information): nothing is trimmed, by ffmpeg or by us.
source_wav mp3d 44100 1 0.2 16; lame --quiet -b 96 -t "$tmp/mp3d.wav" mp3_mono_44k_notag.mp3
for f in mp3_stereo_44k_cbr mp3_mono_22k_vbr mp3_mono_44k_notag; do
  lossy_ref "$f.mp3" "$f.ref.wav"; add "$f" "$f.mp3" "$f.ref.wav" lossy
done
# 8 kHz with short blocks (the signal's abrupt end makes LAME switch): NLayer decodes those frames wrongly, so the
# library refuses the file ("rejected"); ffmpeg's decode is kept as the reference a fixed decoder would meet.
lossy_ref mp3_mono_8k.mp3 mp3_mono_8k.ref.wav; add mp3_mono_8k mp3_mono_8k.mp3 mp3_mono_8k.ref.wav rejected
# Vorbis: oggenc, decoded by oggdec (libvorbisfile, the reference decoder; 16-bit output): ffmpeg 5.1 does not trim a
# short stream's last packet to its granule position (8192 frames for 8000).
source_wav ogga 44100 2 0.25 16; oggenc -Q -q 4 -o vorbis_stereo_44k.ogg "$tmp/ogga.wav"
source_wav oggb 16000 1 0.3 16; oggenc -Q -q 2 -o vorbis_mono_16k.ogg "$tmp/oggb.wav"
for f in vorbis_stereo_44k vorbis_mono_16k; do
  oggdec --quiet -b 16 -o "$f.ref.wav" "$f.ogg"; add "$f" "$f.ogg" "$f.ref.wav" lossy
done
# 5.1 Vorbis: NVorbis 0.10.5 decodes it to noise, so the library rejects Vorbis of 6 or more channels; the file checks
# that it does (comparison "rejected"). ffmpeg's decode is kept as the reference a fixed decoder would meet.
source_wav oggc 48000 6 0.2 16; oggenc -Q -q 4 -o vorbis_6ch_48k.ogg "$tmp/oggc.wav"
lossy_ref vorbis_6ch_48k.ogg vorbis_6ch_48k.ref.wav; add vorbis_6ch_48k vorbis_6ch_48k.ogg vorbis_6ch_48k.ref.wav rejected
# Opus: opusenc (pre-skip 312, granule-trimmed end); a 16 kHz input is coded at 48 kHz.
source_wav opa 48000 2 0.25 16; opusenc --quiet --bitrate 96 "$tmp/opa.wav" opus_stereo_48k.opus
source_wav opb 16000 1 0.3 16; opusenc --quiet --bitrate 32 "$tmp/opb.wav" opus_mono_from16k.opus
source_wav opc 48000 6 0.1 16; opusenc --quiet --bitrate 192 "$tmp/opc.wav" opus_6ch_48k.opus
# Decoded by opusdec (libopus, the reference decoder) in float: ffmpeg's own Opus decoder upsamples SILK with a
# resampler of its own (another phase), so a speech-mode file differs from libopus by far more than rounding.
for f in opus_stereo_48k opus_mono_from16k opus_6ch_48k; do
  opusdec --quiet --float --rate 48000 "$f.opus" "$f.ref.wav"; add "$f" "$f.opus" "$f.ref.wav" lossy
done

column -t manifest.tsv
du -cb ./* | tail -n 1
