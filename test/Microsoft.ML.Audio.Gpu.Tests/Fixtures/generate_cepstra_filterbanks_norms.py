#!/usr/bin/python3
"""Reference fixtures for the second set of Kapre.MLNet layers: MFCC, log-frequency filterbank,
Normalization2D and the frequency-aware convolution.

What it writes (paths relative to this file), all float32 '<f4', C order, numpy format 1.0:
  cepstra_filterbanks_norms/*.npy          inputs and expected outputs
  cepstra_filterbanks_norms/manifest.json  every case with its parameters and file names

Cases:
  dct        torchaudio.functional.create_dct(n_mfcc, n_mels, norm) -> (n_mels, n_mfcc)
  mfcc       torchaudio.transforms.MFCC(sample_rate, n_mfcc, dct_type=2, norm="ortho", log_mels=False,
             melkwargs) on the signals of data/ (made by generate.py). log_mels=False means
             AmplitudeToDB("power", top_db=80): 10 log10(max(x, 1e-10)), then floored at max - 80 dB,
             where the max is taken over the whole (n_mels, frames) example (or (channels, n_mels,
             frames) for the 4-D case, which torchaudio treats per leading entry).
  logfb      Kapre's backend.filterbank_log, written out here in NumPy (Kapre needs TensorFlow and
             librosa): keunwoochoi/kapre kapre/backend.py at 0b83a838 (MIT), itself librosa 0.4's
             `logfrequency`. Centre k: f_min 2^(k / bins_per_octave); sigma = spread / bins_per_octave;
             filter(f) = exp(-0.5 ((log2 f - log2 c) / sigma)^2 - log2 sigma - log2 f) for the bins
             f = linspace(0, sr/2, n_freq)[1:] (DC gets 0); each filter divided by its L1 norm
             (librosa.util.normalize(norm=1, axis=1)). Shape (n_freq, n_bins).
  norm2d     Kapre 2017 Normalization2D (kapre/Utils.py at b1bbd88, MIT): (x - mean) / (std + eps), mean and
             population std (K.std, ddof=0) over every axis except the kept one, on a channels-first
             (batch, channels, freq, time) input.
  freqconv   Frequency-aware conv (Koutini et al., DCASE 2019; Kapre's ConcatenateFrequencyMap + Conv2D, but
             with the map from -1 to 1 as in CoordConv): conv2d(cat([x, map], dim=1), weight, bias).

Generated with (printed and written to manifest.json under "versions"):
  python 3.11.2, torch 1.13.0a0, torchaudio 0.13.1, numpy 1.24.2 (Debian /usr/bin/python3)

Rerun (from any directory):
  /usr/bin/python3 test/Microsoft.ML.Audio.Gpu.Tests/Fixtures/generate_cepstra_filterbanks_norms.py
Deterministic: fixed seeds (numpy.random.default_rng(20)); float64 throughout; only results are rounded
to float32. Inputs are rounded to float32 first, so the C# tests see exactly what the reference saw.
"""

import warnings

import numpy as np
import torch
import torchaudio.functional as AF
import torchaudio.transforms as AT

from fixturelib import CaseSet, f32, signal

CASES = CaseSet("cepstra_filterbanks_norms", "generate_cepstra_filterbanks_norms.py",
                "Reference fixtures for MFCC, log-frequency filterbank, Normalization2D, frequency-aware conv")
save = CASES.save


def log_frequency_fbanks(sample_rate, n_freq, n_bins, bins_per_octave, f_min, spread):
    """Kapre's filterbank_log in NumPy (see the module docstring)."""
    if f_min is None:
        f_min = 32.70319566
    assert f_min * 2 ** (n_bins / bins_per_octave) <= sample_rate // 2
    sigma = float(spread) / bins_per_octave
    basis = np.zeros((n_bins, n_freq))
    log_freqs = np.log2(np.linspace(0, sample_rate / 2, n_freq)[1:])
    for i in range(n_bins):
        c_freq = f_min * (2.0 ** (float(i) / bins_per_octave))
        basis[i, 1:] = np.exp(-0.5 * ((log_freqs - np.log2(c_freq)) / sigma) ** 2 - np.log2(sigma) - log_freqs)
    norms = np.abs(basis).sum(axis=1, keepdims=True)
    norms[norms < np.finfo(np.float64).tiny] = 1.0  # librosa leaves rows of (near) zero norm as they are
    return (basis / norms).T


def normalization_2d(x, keep_axis, eps):
    """Kapre 2017 Normalization2D; keep_axis None = 'batch' (statistics over everything)."""
    axes = tuple(a for a in range(4) if a != keep_axis)
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True)
    return (x - mean) / (std + eps)


def main():
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(20)
    cases = CASES.cases

    # --- DCT matrices
    for n_mfcc, n_mels, norm in [(40, 128, "ortho"), (13, 40, "ortho"), (20, 64, None)]:
        dct = AF.create_dct(n_mfcc, n_mels, norm).numpy()
        name = f"dct_{n_mfcc}_{n_mels}_{norm or 'none'}"
        cases.append({"kind": "dct", "name": name, "n_mfcc": n_mfcc, "n_mels": n_mels, "norm": norm,
                      "expected": save(name + ".npy", dct), "shape": list(dct.shape)})

    # --- MFCC (torchaudio.transforms.MFCC, log_mels=False: AmplitudeToDB power, top_db 80)
    mfcc_cases = [
        ("chirp16k", 16000, 40, dict(n_fft=512, win_length=400, hop_length=160, n_mels=64, pad_mode="reflect")),
        ("tones22k", 22050, 13, dict(n_fft=1024, win_length=1024, hop_length=256, n_mels=40, f_min=20.0, f_max=8000.0,
                                     pad_mode="constant")),
        ("speech44k", 44100, 40, dict(n_fft=2048, win_length=2048, hop_length=512, n_mels=128, pad_mode="reflect")),
    ]
    for sig, sr, n_mfcc, mk in mfcc_cases:
        x = torch.from_numpy(signal(sig))
        kwargs = dict(f_min=0.0, f_max=None, power=2.0, center=True, norm=None, mel_scale="htk")
        kwargs.update(mk)
        mfcc = AT.MFCC(sample_rate=sr, n_mfcc=n_mfcc, dct_type=2, norm="ortho", log_mels=False, melkwargs=kwargs)
        assert mfcc.top_db == 80.0 and mfcc.amplitude_to_DB.amin == 1e-10 and mfcc.amplitude_to_DB.db_multiplier == 0.0
        y = mfcc(x).numpy()
        name = f"mfcc_{sig}_{n_mfcc}_{kwargs['n_fft']}_{kwargs['hop_length']}_{kwargs['n_mels']}"
        cases.append({"kind": "mfcc", "name": name, "signal": sig, "sample_rate": sr, "n_mfcc": n_mfcc,
                      "n_fft": kwargs["n_fft"], "win_length": kwargs["win_length"], "hop_length": kwargs["hop_length"],
                      "n_mels": kwargs["n_mels"], "f_min": kwargs["f_min"], "f_max": kwargs["f_max"] or sr / 2,
                      "pad_mode": kwargs["pad_mode"], "top_db": 80.0, "amin": 1e-10,
                      "expected": save(name + ".npy", y), "shape": list(y.shape), "max_abs": float(np.abs(y).max())})

    # 4-D (batch 2, channels 2): torchaudio's amplitude_to_DB takes the 80 dB floor per batch entry over both channels.
    chirp = signal("chirp16k")
    x4 = f32(np.stack([np.stack([chirp[:3200], chirp[800:4000]]), np.stack([0.1 * chirp[400:3600], chirp[:3200][::-1]])]))
    mfcc = AT.MFCC(sample_rate=16000, n_mfcc=20, log_mels=False,
                   melkwargs=dict(n_fft=256, win_length=256, hop_length=128, n_mels=32))
    y4 = mfcc(torch.from_numpy(x4.astype(np.float64))).numpy()
    cases.append({"kind": "mfcc4d", "name": "mfcc4d_chirp16k_20_256_128_32", "sample_rate": 16000, "n_mfcc": 20,
                  "n_fft": 256, "win_length": 256, "hop_length": 128, "n_mels": 32, "f_min": 0.0, "f_max": 8000.0,
                  "pad_mode": "reflect", "top_db": 80.0, "amin": 1e-10,
                  "input": save("mfcc4d_input.npy", x4), "expected": save("mfcc4d_chirp16k_20_256_128_32.npy", y4),
                  "shape": list(y4.shape)})

    # --- Log-frequency filterbanks (Kapre filterbank_log)
    for sr, n_freq, n_bins, bpo, f_min, spread in [
        (16000, 257, 84, 12, None, 0.125),
        (22050, 513, 48, 12, 55.0, 0.25),
        (8000, 257, 24, 6, 50.0, 0.125),
        (44100, 513, 60, 12, 100.0, 0.5),
    ]:
        fb = log_frequency_fbanks(sr, n_freq, n_bins, bpo, f_min, spread)
        name = f"logfb_{sr}_{n_freq}_{n_bins}_{bpo}_{f_min or 'c1'}_{spread}"
        cases.append({"kind": "logfb", "name": name, "sample_rate": sr, "n_freq": n_freq, "n_bins": n_bins,
                      "bins_per_octave": bpo, "f_min": f_min, "spread": spread,
                      "expected": save(name + ".npy", fb), "shape": list(fb.shape), "max_abs": float(np.abs(fb).max())})

    # --- Normalization2D (Kapre 2017), channels-first (batch 3, channels 2, freq 16, time 20)
    x = f32(rng.normal(size=(3, 2, 16, 20)) * np.linspace(0.5, 3.0, 16)[None, None, :, None] + 2.0)
    norm_input = save("norm2d_input.npy", x)
    x = x.astype(np.float64)
    for axis_name, keep in [("batch", None), ("data_sample", 0), ("channel", 1), ("freq", 2), ("time", 3)]:
        for eps in [1e-10, 0.5]:
            y = normalization_2d(x, keep, eps)
            name = f"norm2d_{axis_name}_{eps}"
            cases.append({"kind": "norm2d", "name": name, "axis": axis_name, "eps": eps, "input": norm_input,
                          "expected": save(name + ".npy", y), "shape": list(y.shape)})

    # --- Frequency-aware conv2d
    for n, c_in, c_out, f, t, k, pad, stride in [(2, 2, 3, 12, 10, 3, 1, 1), (1, 1, 4, 9, 7, 3, 0, 2)]:
        xin = f32(rng.normal(size=(n, c_in, f, t)))
        w = f32(rng.normal(size=(c_out, c_in + 1, k, k)) * 0.3)
        b = f32(rng.normal(size=(c_out,)))
        xt = torch.from_numpy(xin.astype(np.float64))
        fmap = torch.linspace(-1.0, 1.0, f).reshape(1, 1, f, 1).expand(n, 1, f, t)
        y = torch.nn.functional.conv2d(torch.cat([xt, fmap], dim=1), torch.from_numpy(w.astype(np.float64)),
                                       torch.from_numpy(b.astype(np.float64)), stride=stride, padding=pad).numpy()
        name = f"freqconv_{n}_{c_in}_{c_out}_{f}_{t}_k{k}_p{pad}_s{stride}"
        cases.append({"kind": "freqconv", "name": name, "in_channels": c_in, "out_channels": c_out, "kernel_size": k,
                      "padding": pad, "stride": stride, "input": save(name + "_input.npy", xin),
                      "weight": save(name + "_weight.npy", w), "bias": save(name + "_bias.npy", b),
                      "expected": save(name + ".npy", y), "shape": list(y.shape)})

    total = CASES.write_manifest()
    assert total < 1_000_000


if __name__ == "__main__":
    main()
