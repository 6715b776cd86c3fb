#!/usr/bin/python3
"""Reference fixtures for the second group of Kapre.MLNet layers: inverse STFT, Griffin-Lim, framing, energy,
mu-law, extra windows and deltas.

What it writes (paths relative to this file):
  inverse_framing_windows/*.npy          inputs and expected outputs, float32 '<f4', C order (numpy.save)
  inverse_framing_windows/manifest.json  every case with its parameters and file names

It reads the signals of generate.py (data/signal_*.npy) and makes no new audio.

References:
  istft       torch.istft (center=True), from a spectrum made by torch.stft and rounded to float32
  griffinlim  torchaudio.functional.griffinlim with rand_init=False (deterministic)
  frame       NumPy port of tf.signal.frame (Kapre's Frame): no TensorFlow here
  energy      NumPy port of Kapre's Energy: sum of squares per frame * ref_duration / (frame_length / sample_rate)
  mulaw       torchaudio.functional.mu_law_encoding on float32 input (so in float32, as torchaudio computes it) and
              mu_law_decoding in float64
  window      torch.kaiser_window, scipy.signal.windows.kaiser_bessel_derived, and the Vorbis formula
              sin(pi/2 sin^2(pi (n + 0.5) / N)) in NumPy
  delta       torchaudio.functional.compute_deltas (mode "replicate") and a NumPy port with numpy.pad "symmetric"
              (Kapre's Delta, tf.pad SYMMETRIC)

torch.set_default_dtype(torch.float64) is set first; every reference is computed in float64 from the float32 values
that are stored (except mu-law encoding, see above), and only the result is rounded to float32.

Generated with (also written to inverse_framing_windows/manifest.json under "versions"):
  python 3.11.2, torch 1.13.0a0, torchaudio 0.13.1, numpy 1.24.2, scipy 1.10.1 (Debian /usr/bin/python3)

Rerun from any directory:
  /usr/bin/python3 test/Microsoft.ML.Audio.Gpu.Tests/Fixtures/generate_inverse_framing_windows.py
The output is deterministic (fixed seed, numpy.random.default_rng(7)); about 0.6 MB.
"""

import numpy as np
import scipy.signal
import torch
import torchaudio.functional as AF

from fixturelib import CaseSet, f32, signal

CASES = CaseSet("inverse_framing_windows", "generate_inverse_framing_windows.py",
                "Reference fixtures for InverseStft, GriffinLim, Frame, Energy, MuLaw, windows, Delta",
                signals_from="data/signal_<name>.npy (generate.py)")
save = CASES.save
add = CASES.add


# --------------------------------------------------------------------------- inverse STFT

def istft_cases():
    for sig_name, n_fft, win, hop, length_delta in [("chirp16k", 512, 512, 128, 0),
                                                     ("noise8k", 512, 400, 100, 0),
                                                     ("tones22k", 256, 256, 64, -37)]:
        x = torch.from_numpy(signal(sig_name))
        window = torch.hann_window(win, periodic=True)
        spec = torch.stft(x, n_fft, hop, win, window, center=True, pad_mode="reflect", normalized=False,
                          onesided=True, return_complex=True)
        spec_f32 = f32(torch.view_as_real(spec))  # the stored spectrum
        spec64 = torch.view_as_complex(torch.from_numpy(spec_f32.astype(np.float64)))
        length = x.shape[0] + length_delta
        y = torch.istft(spec64, n_fft, hop, win, window, center=True, normalized=False, onesided=True, length=length)
        name = f"istft_{sig_name}_{n_fft}_{win}_{hop}_len{length}"
        add("istft", name, signal=sig_name, n_fft=n_fft, win_length=win, hop_length=hop, window="hann",
            length=length, input=save(name + "_in.npy", spec_f32), expected=save(name + ".npy", y))


# --------------------------------------------------------------------------- Griffin-Lim

def griffinlim_cases():
    # Only the chirp: on the steady tones (tones22k) Griffin-Lim from a zero phase is ill-conditioned, and torchaudio's
    # own float32 run differs from its float64 run by 3e-2 of the peak after 8 iterations (1e-1 after 16 with momentum),
    # so no float32 implementation could match it. On the chirp torchaudio float32 vs float64 differs by 6e-6 (8
    # iterations, no momentum) and 2.1e-4 (16 iterations, momentum 0.99).
    for sig_name, n_fft, hop, power, n_iter, momentum in [("chirp16k", 256, 64, 2.0, 16, 0.99),
                                                          ("chirp16k", 256, 64, 1.0, 8, 0.0)]:
        x = torch.from_numpy(signal(sig_name))
        window = torch.hann_window(n_fft, periodic=True)
        spec = torch.stft(x, n_fft, hop, n_fft, window, center=True, pad_mode="reflect", return_complex=True)
        spec = spec.abs().pow(power)
        spec_f32 = f32(spec)
        spec64 = torch.from_numpy(spec_f32.astype(np.float64))
        length = x.shape[0]
        y = AF.griffinlim(spec64, window, n_fft, hop, n_fft, power, n_iter, momentum, length, rand_init=False)
        name = f"griffinlim_{sig_name}_{n_fft}_{hop}_p{int(power)}_it{n_iter}_m{momentum}"
        add("griffinlim", name, signal=sig_name, n_fft=n_fft, win_length=n_fft, hop_length=hop, window="hann",
            power=power, n_iter=n_iter, momentum=momentum, length=length,
            input=save(name + "_in.npy", spec_f32), expected=save(name + ".npy", y))


# --------------------------------------------------------------------------- frame, energy

def np_frame(x, frame_length, hop, pad_end, pad_value):
    """tf.signal.frame along the last axis (Kapre's Frame): (..., frames, frame_length)."""
    n = x.shape[-1]
    if pad_end:
        frames = -(-n // hop)
        pad = max(0, frame_length + hop * (frames - 1) - n)
        x = np.concatenate([x, np.full(x.shape[:-1] + (pad,), pad_value)], axis=-1)
    else:
        frames = max(0, 1 + (n - frame_length) // hop)
    return np.stack([x[..., t * hop:t * hop + frame_length] for t in range(frames)], axis=-2)


def frame_energy_cases():
    x = signal("noise8k")
    for fl, hop, pad_end, pad_value in [(256, 100, False, 0.0), (256, 100, True, 0.0), (200, 64, True, 0.5)]:
        name = f"frame_noise8k_{fl}_{hop}_{'padend' if pad_end else 'valid'}_{pad_value}"
        add("frame", name, signal="noise8k", frame_length=fl, hop_length=hop, pad_end=pad_end, pad_value=pad_value,
            expected=save(name + ".npy", np_frame(x, fl, hop, pad_end, pad_value)))
    for sig_name, sr, ref, fl, hop, pad_end in [("speech44k", 44100, 0.1, 2205, 1102, False),
                                                ("chirp16k", 16000, 0.05, 400, 160, True)]:
        x = signal(sig_name)
        energy = np.sum(np_frame(x, fl, hop, pad_end, 0.0) ** 2, axis=-1) * (ref / (fl / sr))
        name = f"energy_{sig_name}_{fl}_{hop}_{ref}_{'padend' if pad_end else 'valid'}"
        add("energy", name, signal=sig_name, sample_rate=sr, ref_duration=ref, frame_length=fl, hop_length=hop,
            pad_end=pad_end, expected=save(name + ".npy", energy))


# --------------------------------------------------------------------------- mu-law

def mulaw_cases():
    x = np.concatenate([signal("speech44k").astype(np.float32),  # the stored float32 values
                        np.array([-1.0, 1.0, 0.0, 1e-9, -1e-9, 0.999999, -0.999999], dtype=np.float32)]).astype(np.float32)
    for q in [256, 16]:
        codes = AF.mu_law_encoding(torch.from_numpy(x), q)  # float32 in, float32 arithmetic, int64 out
        assert codes.dtype == torch.int64 and int(codes.min()) >= 0 and int(codes.max()) <= q - 1
        name = f"mulaw_encode_speech44k_q{q}"
        add("mulaw_encode", name, quantization_channels=q, input=save("mulaw_in_speech44k.npy", x),
            expected=save(name + ".npy", codes.to(torch.float64)))
        all_codes = torch.arange(q, dtype=torch.float64)
        name = f"mulaw_decode_all_q{q}"
        add("mulaw_decode", name, quantization_channels=q, expected=save(name + ".npy", AF.mu_law_decoding(all_codes, q)))


# --------------------------------------------------------------------------- windows

def vorbis(n_len):
    n = np.arange(n_len, dtype=np.float64)
    return np.sin(np.pi / 2 * np.sin(np.pi * (n + 0.5) / n_len) ** 2)


def window_cases():
    for n_len, beta, periodic in [(64, 12.0, True), (400, 8.6, True), (257, 0.0, True), (65, 5.0, False), (1, 12.0, True)]:
        name = f"window_kaiser_{n_len}_{beta}_{'periodic' if periodic else 'symmetric'}"
        add("window", name, window="kaiser", window_length=n_len, beta=beta, periodic=periodic,
            expected=save(name + ".npy", torch.kaiser_window(n_len, periodic=periodic, beta=beta)))
    for n_len, beta in [(64, 4 * np.pi), (256, 12.0), (2, 5.0)]:
        name = f"window_kbd_{n_len}_{beta:.4f}"
        add("window", name, window="kbd", window_length=n_len, beta=float(beta), periodic=None,
            expected=save(name + ".npy", scipy.signal.windows.kaiser_bessel_derived(n_len, beta)))
    for n_len in [64, 255, 2048]:
        name = f"window_vorbis_{n_len}"
        add("window", name, window="vorbis", window_length=n_len, beta=None, periodic=None,
            expected=save(name + ".npy", vorbis(n_len)))


# --------------------------------------------------------------------------- deltas

def np_deltas(x, win_length, mode):
    n = (win_length - 1) // 2
    denom = n * (n + 1) * (2 * n + 1) / 3
    pad = [(0, 0)] * (x.ndim - 1) + [(n, n)]
    xp = np.pad(x, pad, mode=mode)
    t = x.shape[-1]
    return sum(k * (xp[..., n + k:n + k + t] - xp[..., n - k:n - k + t]) for k in range(1, n + 1)) / denom


def delta_cases():
    rng = np.random.default_rng(7)
    x = f32(rng.standard_normal((2, 3, 20, 37))).astype(np.float64)
    inp = save("delta_in.npy", x)
    for win in [3, 5, 9]:
        ref = AF.compute_deltas(torch.from_numpy(x), win_length=win, mode="replicate")
        assert np.max(np.abs(ref.numpy() - np_deltas(x, win, "edge"))) < 1e-12  # torchaudio vs NumPy port
        name = f"delta_replicate_{win}"
        add("delta", name, win_length=win, mode="replicate", input=inp, expected=save(name + ".npy", ref))
    for win in [5, 9]:
        name = f"delta_symmetric_{win}"
        add("delta", name, win_length=win, mode="symmetric", input=inp,
            expected=save(name + ".npy", np_deltas(x, win, "symmetric")))


def main():
    istft_cases()
    griffinlim_cases()
    frame_energy_cases()
    mulaw_cases()
    window_cases()
    delta_cases()
    CASES.write_manifest()


if __name__ == "__main__":
    main()
