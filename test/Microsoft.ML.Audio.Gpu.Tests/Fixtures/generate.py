#!/usr/bin/python3
"""Reference-fixture generator for the Kapre.MLNet audio layers (STFT, mel, decibel).

What it writes (all paths relative to this file):
  data/signal_<name>.npy   test signals (float32, 1-D)
  data/<case>.npy          expected outputs (and decibel inputs), float32 '<f4', C order
  manifest.json            every signal and case with its parameters (see README.md)
  kapre/speech.npy         Kapre's speech test file as float32 (int16 / 32768)
  It reads kapre/*.wav and kapre/*_g0.npy (Kapre's own test data, MIT licence, committed) and checks the Kapre
  recipe against them here.

Fixture kinds:
  stft     torch.stft (framing "center" / "nocenter") or an independent NumPy
           implementation of the Kapre / TensorFlow framing conventions
           (framing "none", "end", "begin", "begin_end", "same").
  melfb    torchaudio.functional.melscale_fbanks, cross-checked against a NumPy
           port of the librosa formulas.
  melspec  torchaudio.transforms.MelSpectrogram.
  db       torchaudio.functional.amplitude_to_DB, applied per example.

Every reference is computed in float64 (torch.set_default_dtype(torch.float64) is set
before anything else, so torchaudio's internal linspace calls are float64 too) from the
float32 values that are saved (signals and decibel inputs are rounded to float32 first,
then widened back to float64), and only the result is rounded to float32.

Generated with (also printed and written to manifest.json under "versions"):
  python      3.11.2 (Debian /usr/bin/python3)
  torch       1.13.0a0 (Debian python3-torch)
  torchaudio  0.13.1 (Debian python3-torchaudio)
  numpy       1.24.2
  scipy       1.10.1

Rerun (from any directory):
  /usr/bin/python3 test/Microsoft.ML.Audio.Gpu.Tests/Fixtures/generate.py
Dependencies on Debian: apt-get install python3-torchaudio python3-scipy python3-numpy
The output is deterministic (fixed seeds, numpy.random.default_rng).
"""

import torch

torch.set_default_dtype(torch.float64)

import contextlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.io.wavfile  # noqa: E402
import scipy.signal  # noqa: E402
import torchaudio  # noqa: E402
import torchaudio.functional as AF  # noqa: E402
import torchaudio.transforms as AT  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
KAPRE_OUT = os.path.join(HERE, "kapre")

VERSIONS = {
    "python": platform.python_version(),
    "torch": torch.__version__,
    "torchaudio": torchaudio.__version__,
    "numpy": np.__version__,
    "scipy": scipy.__version__,
}

WRITTEN = {}  # relative path -> float32 array that was written (for the read-back check)


# --------------------------------------------------------------------------- helpers

def f32(a):
    """Round to float32 exactly as it is stored."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(a), dtype="<f4")


def save(folder, fname, arr):
    arr = f32(arr)
    path = os.path.join(folder, fname)
    np.save(path, arr)
    WRITTEN[os.path.relpath(path, HERE)] = arr
    return fname


def rel_err(a, ref):
    """max |a - ref| / max |ref|"""
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    den = np.max(np.abs(ref))
    return float(np.max(np.abs(a - ref)) / den) if den > 0 else float(np.max(np.abs(a - ref)))


def sig(x):
    """Round to 3 significant digits for the manifest (error figures)."""
    return float("%.3g" % x)


@contextlib.contextmanager
def default_dtype(dt):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dt)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


# --------------------------------------------------------------------------- windows

def torch_window(kind, win_length, dtype=torch.float64):
    if kind == "hann":
        return torch.hann_window(win_length, periodic=True, dtype=dtype)
    if kind == "hamming":
        return torch.hamming_window(win_length, periodic=True, alpha=0.54, beta=0.46, dtype=dtype)
    if kind == "rectangular":
        return torch.ones(win_length, dtype=dtype)
    raise ValueError(kind)


def np_window(kind, n):
    """Periodic windows written out from their formulas (independent of torch)."""
    k = np.arange(n, dtype=np.float64)
    if kind == "hann":
        return 0.5 - 0.5 * np.cos(2.0 * np.pi * k / n)
    if kind == "hamming":
        return 0.54 - 0.46 * np.cos(2.0 * np.pi * k / n)
    if kind == "rectangular":
        return np.ones(n)
    raise ValueError(kind)


# --------------------------------------------------------------------------- STFT

def torch_stft(x, n_fft, win_length, hop, window, center, pad_mode, dtype=torch.float64):
    xt = torch.from_numpy(np.asarray(x)).to(dtype)
    return torch.stft(
        xt, n_fft=n_fft, hop_length=hop, win_length=win_length,
        window=torch_window(window, win_length, dtype), center=center,
        pad_mode=pad_mode if pad_mode is not None else "reflect",
        normalized=False, onesided=True, return_complex=True,
    ).numpy()


def np_stft_torch_convention(x, n_fft, win_length, hop, window, center, pad_mode):
    """Independent NumPy version of torch.stft (window centred inside n_fft)."""
    x = np.asarray(x, dtype=np.float64)
    if center:
        p = n_fft // 2
        x = np.pad(x, (p, p), mode="reflect" if pad_mode == "reflect" else "constant")
    w = np.zeros(n_fft)
    left = (n_fft - win_length) // 2
    w[left:left + win_length] = np_window(window, win_length)
    n_frames = 1 + (len(x) - n_fft) // hop
    frames = np.stack([x[t * hop:t * hop + n_fft] * w for t in range(n_frames)])
    return np.fft.rfft(frames, n=n_fft, axis=1).T  # [freq, frames]


def kapre_pad(x, n_fft, win_length, hop, framing):
    """Zero padding of the Kapre / TensorFlow framing conventions (see README.md)."""
    n = len(x)

    def end_pad(m):
        frames = -(-m // hop)
        return max(0, (frames - 1) * hop + win_length - m)

    if framing == "none":
        return x
    if framing == "end":
        return np.concatenate([x, np.zeros(end_pad(n))])
    if framing == "begin":
        return np.concatenate([np.zeros(n_fft - hop), x])
    if framing == "begin_end":
        xb = np.concatenate([np.zeros(n_fft - hop), x])
        return np.concatenate([xb, np.zeros(end_pad(len(xb)))])
    if framing == "same":
        frames = -(-n // hop)
        total = max((frames - 1) * hop + win_length - n, 0)
        left = total // 2
        return np.concatenate([np.zeros(left), x, np.zeros(total - left)])
    raise ValueError(framing)


def np_stft_kapre(x, n_fft, win_length, hop, window, framing):
    """Kapre / TF framing: frame t = xp[t*hop : t*hop+win] * window, zero-padded at the END
    to n_fft, then rfft. Returns complex [freq, frames]."""
    xp = kapre_pad(np.asarray(x, dtype=np.float64), n_fft, win_length, hop, framing)
    n_frames = 1 + (len(xp) - win_length) // hop
    w = np_window(window, win_length)
    frames = np.stack([xp[t * hop:t * hop + win_length] * w for t in range(n_frames)])
    return np.fft.rfft(frames, n=n_fft, axis=1).T


def stft_output(X, output):
    if output == "power":
        return np.abs(X) ** 2
    if output == "magnitude":
        return np.abs(X)
    if output == "complex":
        return np.stack([X.real, X.imag], axis=-1)
    raise ValueError(output)


# --------------------------------------------------------------------------- mel (librosa formulas)

def hz_to_mel(f, scale):
    f = np.asarray(f, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + f / 700.0)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz,
                    min_log_mel + np.log(np.maximum(f, 1e-300) / min_log_hz) / logstep,
                    f / f_sp)


def mel_to_hz(m, scale):
    m = np.asarray(m, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def np_mel_fb(sr, n_freqs, n_mels, f_min, f_max, scale, norm):
    """librosa.filters.mel (fftfreqs = linspace(0, sr/2, n_freqs)), transposed to [n_freqs, n_mels]."""
    fftfreqs = np.linspace(0.0, sr / 2.0, n_freqs)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(f_min, scale), hz_to_mel(f_max, scale), n_mels + 2), scale)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    w = np.zeros((n_mels, n_freqs))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        w[i] = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        w *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return w.T


def torch_mel_fb(sr, n_freqs, n_mels, f_min, f_max, scale, norm, dtype=torch.float64):
    with default_dtype(dtype), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all-zero filters are reported in the manifest instead
        return AF.melscale_fbanks(n_freqs, float(f_min), float(f_max), n_mels, sr, norm, scale).numpy()


# --------------------------------------------------------------------------- decibel

def torch_db(x, multiplier, amin, ref, top_db, dtype=torch.float64):
    """amplitude_to_DB per example: [F,T] directly, [B,F,T] one example at a time."""
    xt = torch.from_numpy(np.asarray(x)).to(dtype)
    dbm = math.log10(max(amin, ref))
    if xt.dim() == 2:
        return AF.amplitude_to_DB(xt, multiplier, amin, dbm, top_db).numpy()
    return np.stack([AF.amplitude_to_DB(xt[b], multiplier, amin, dbm, top_db).numpy()
                     for b in range(xt.shape[0])])


def np_db(x, multiplier, amin, ref, top_db):
    x = np.asarray(x, dtype=np.float64)
    y = multiplier * np.log10(np.maximum(x, amin)) - multiplier * np.log10(max(amin, ref))
    if top_db is None:
        return y
    if y.ndim == 2:
        return np.maximum(y, y.max() - top_db)
    return np.stack([np.maximum(e, e.max() - top_db) for e in y])


# --------------------------------------------------------------------------- main

def main():
    print("versions:", json.dumps(VERSIONS))
    os.makedirs(DATA, exist_ok=True)
    os.makedirs(KAPRE_OUT, exist_ok=True)
    for f in os.listdir(DATA):  # start clean so no stale fixture survives
        if f.endswith(".npy"):
            os.remove(os.path.join(DATA, f))

    manifest = {
        "description": "Reference fixtures for Kapre.MLNet STFT / mel / decibel layers. See README.md.",
        "generator": "generate.py",
        "versions": VERSIONS,
        "dtype": "float32",
        "signals": [],
        "kapre": {},
        "cases": [],
    }

    # ---------------------------------------------------------------- Kapre data
    # Kapre's own files (MIT, see kapre/README.md) are committed in kapre/; nothing outside the repository is read.
    for f in ("speech_test_file.wav", "test_audio_stft_g0.npy", "test_audio_mel_g0.npy"):
        assert os.path.exists(os.path.join(KAPRE_OUT, f)), f"{f}: not in {KAPRE_OUT}"
    sr_speech, pcm = scipy.io.wavfile.read(os.path.join(KAPRE_OUT, "speech_test_file.wav"))
    assert pcm.dtype == np.int16 and pcm.ndim == 1 and sr_speech == 44100, (pcm.dtype, pcm.shape, sr_speech)
    speech = pcm.astype(np.float64) / 32768.0
    save(KAPRE_OUT, "speech.npy", speech)

    g0_stft = np.load(os.path.join(KAPRE_OUT, "test_audio_stft_g0.npy")).astype(np.float64)
    g0_mel = np.load(os.path.join(KAPRE_OUT, "test_audio_mel_g0.npy")).astype(np.float64)
    pw = np.abs(np_stft_kapre(f32(speech).astype(np.float64), 1024, 1024, 128, "hann", "same")) ** 2
    fb = np_mel_fb(44100, 513, 80, 0.0, 22050.0, "slaney", "slaney")
    mel = fb.T @ pw
    assert pw.shape == g0_stft.shape and mel.shape == g0_mel.shape, (pw.shape, g0_stft.shape, mel.shape)
    e_stft = rel_err(pw, g0_stft)
    e_mel = rel_err(mel, g0_mel)
    # element-wise relative error over the elements above 1e-3 * max (for information)
    big = g0_mel > 1e-3 * g0_mel.max()
    e_mel_elem = float(np.max(np.abs(mel[big] - g0_mel[big]) / g0_mel[big]))
    print("kapre: stft rel err %.3g, mel rel err %.3g (elementwise above 1e-3*max: %.3g)"
          % (e_stft, e_mel, e_mel_elem))
    assert e_stft < 1e-5, e_stft
    assert e_mel < 5e-4, e_mel
    manifest["kapre"] = {
        "licence": "MIT, Copyright (c) 2016 Keunwoo Choi et al. (see kapre/README.md)",
        "wav": "kapre/speech_test_file.wav",
        "samples": "kapre/speech.npy",
        "sample_rate": int(sr_speech),
        "n_samples": int(len(pcm)),
        "stft": {
            "expected": "kapre/test_audio_stft_g0.npy", "shape": list(g0_stft.shape),
            "n_fft": 1024, "win_length": 1024, "hop_length": 128, "window": "hann",
            "framing": "same", "pad_mode": None, "output": "power",
            "max_rel_err": sig(e_stft),
        },
        "mel": {
            "expected": "kapre/test_audio_mel_g0.npy", "shape": list(g0_mel.shape),
            "input": "power spectrogram of kapre.stft", "sample_rate": 44100, "n_fft": 1024,
            "n_mels": 80, "f_min": 0.0, "f_max": 22050.0, "mel_scale": "slaney", "norm": "slaney",
            "max_rel_err": sig(e_mel), "max_elementwise_rel_err_above_1e-3_max": sig(e_mel_elem),
        },
        "max_rel_err_definition": "max|ours - file| / max|file|, ours computed in float64 by generate.py",
    }

    # ---------------------------------------------------------------- signals
    rng0 = np.random.default_rng(0)
    n = 4000
    t = np.arange(n) / 16000.0
    chirp = 0.5 * scipy.signal.chirp(t, f0=100.0, t1=t[-1], f1=7000.0, method="linear") \
        + 0.01 * rng0.standard_normal(n)
    t = np.arange(4410) / 22050.0
    tones = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.2 * np.sin(2 * np.pi * 1234.5 * t) \
        + 0.1 * np.sin(2 * np.pi * 5000.0 * t)
    speech44k = speech[40000:40000 + 8192]
    noise = np.random.default_rng(1).uniform(-1.0, 1.0, 2401)

    signals = {}
    for name, x, sr in (("chirp16k", chirp, 16000), ("tones22k", tones, 22050),
                        ("speech44k", speech44k, 44100), ("noise8k", noise, 8000)):
        fname = save(DATA, "signal_%s.npy" % name, x)
        signals[name] = (f32(x).astype(np.float64), sr)  # references use the stored float32 values
        manifest["signals"].append({"name": name, "file": fname, "sample_rate": sr, "length": len(x)})

    cases = manifest["cases"]

    # ---------------------------------------------------------------- STFT (torch conventions)
    # (signal, n_fft, win, hop, window, framing, pad_mode, output)
    torch_stft_cases = [
        ("chirp16k", 512, 400, 160, "hann", "center", "reflect", "power"),
        ("chirp16k", 512, 512, 128, "hann", "center", "reflect", "magnitude"),
        ("chirp16k", 256, 200, 100, "hamming", "center", "constant", "power"),
        ("chirp16k", 512, 301, 127, "hann", "center", "reflect", "complex"),
        ("chirp16k", 1024, 1024, 256, "rectangular", "center", "reflect", "power"),
        ("chirp16k", 256, 256, 64, "hamming", "nocenter", None, "magnitude"),
        ("tones22k", 1024, 1024, 512, "hann", "center", "reflect", "power"),
        ("tones22k", 512, 512, 256, "hamming", "center", "constant", "magnitude"),
        ("tones22k", 256, 256, 128, "rectangular", "center", "constant", "complex"),
        ("tones22k", 1024, 800, 160, "hann", "nocenter", None, "power"),
        ("tones22k", 512, 301, 100, "rectangular", "center", "reflect", "magnitude"),
        ("speech44k", 2048, 2048, 512, "hann", "center", "reflect", "power"),
        ("speech44k", 2048, 2048, 1024, "hamming", "center", "reflect", "magnitude"),
        ("speech44k", 1024, 1024, 256, "hann", "center", "constant", "complex"),
        ("speech44k", 2048, 1500, 255, "hann", "nocenter", None, "power"),
        ("speech44k", 512, 400, 160, "rectangular", "center", "reflect", "power"),
        ("speech44k", 1024, 1024, 256, "hamming", "nocenter", None, "complex"),
        ("noise8k", 256, 200, 100, "hann", "center", "reflect", "power"),
        ("noise8k", 512, 512, 127, "hamming", "center", "constant", "complex"),
        ("noise8k", 256, 256, 128, "rectangular", "nocenter", None, "magnitude"),
        ("noise8k", 1024, 1024, 256, "hann", "center", "reflect", "magnitude"),
        ("noise8k", 512, 301, 160, "hamming", "center", "reflect", "power"),
        ("noise8k", 256, 201, 64, "rectangular", "center", "constant", "power"),
        ("noise8k", 512, 400, 100, "hamming", "nocenter", None, "complex"),
    ]
    # Kapre / TensorFlow framing (NumPy only): window at the start of the frame, zeros after
    kapre_cases = [
        ("chirp16k", 512, 512, 128, "hann", "none", "power"),
        ("tones22k", 512, 400, 160, "hamming", "none", "magnitude"),
        ("chirp16k", 512, 400, 160, "hann", "end", "complex"),
        ("noise8k", 256, 256, 100, "hamming", "end", "power"),
        ("speech44k", 1024, 1024, 256, "hann", "begin", "power"),
        ("noise8k", 512, 400, 127, "hamming", "begin", "magnitude"),
        ("tones22k", 1024, 1024, 512, "hann", "begin_end", "complex"),
        ("chirp16k", 256, 200, 100, "hamming", "begin_end", "power"),
        ("speech44k", 1024, 1024, 256, "hann", "same", "power"),
        ("noise8k", 512, 301, 127, "hann", "same", "magnitude"),
        ("tones22k", 256, 256, 64, "hamming", "same", "complex"),
    ]

    def stft_case(name, s, n_fft, win, hop, window, framing, pad_mode, output, ref, check_err, f32_err):
        fname = save(DATA, name + ".npy", ref)
        cases.append({
            "kind": "stft", "name": name, "signal": s, "n_fft": n_fft, "win_length": win,
            "hop_length": hop, "window": window, "framing": framing, "pad_mode": pad_mode,
            "output": output, "expected": fname, "shape": list(ref.shape),
            "max_abs": sig(np.max(np.abs(ref))),
            "crosscheck_rel_err": sig(check_err), "float32_rel_err": sig(f32_err),
        })

    for (s, n_fft, win, hop, window, framing, pad_mode, output) in torch_stft_cases:
        x = signals[s][0]
        center = framing == "center"
        X = torch_stft(x, n_fft, win, hop, window, center, pad_mode)
        Xn = np_stft_torch_convention(x, n_fft, win, hop, window, center, pad_mode)
        X32 = torch_stft(f32(x), n_fft, win, hop, window, center, pad_mode, dtype=torch.float32)
        assert X.shape == Xn.shape == X32.shape, (X.shape, Xn.shape)
        ref = stft_output(X, output)
        chk = rel_err(stft_output(Xn, output), ref)
        assert chk < 1e-12, (s, n_fft, win, hop, chk)
        if framing == "nocenter" and win == n_fft:  # same frames as the Kapre "none" convention
            assert rel_err(stft_output(np_stft_kapre(x, n_fft, win, hop, window, "none"), output), ref) < 1e-12
        tok = pad_mode if center else framing
        name = "stft_%s_%d_%d_%d_%s_%s_%s" % (s, n_fft, win, hop, window, tok, output)
        stft_case(name, s, n_fft, win, hop, window, framing, pad_mode, output, ref, chk,
                  rel_err(stft_output(X32.astype(np.complex128), output), ref))

    for (s, n_fft, win, hop, window, framing, output) in kapre_cases:
        x = signals[s][0]
        X = np_stft_kapre(x, n_fft, win, hop, window, framing)
        # cross-check: explicit padding + torch.stft(center=False) on each frame layout.
        # torch centres a short window inside n_fft, so give it the window already placed at
        # the start of an n_fft-long window (zeros after it) and n_fft-long frames.
        xp = kapre_pad(x, n_fft, win, hop, framing)
        n_frames = 1 + (len(xp) - win) // hop
        xp = np.concatenate([xp, np.zeros(max(0, (n_frames - 1) * hop + n_fft - len(xp)))])
        wfull = torch.zeros(n_fft)
        wfull[:win] = torch_window(window, win)
        Xt = torch.stft(torch.from_numpy(xp), n_fft, hop, n_fft, wfull, center=False,
                        onesided=True, return_complex=True).numpy()[:, :n_frames]
        ref = stft_output(X, output)
        chk = rel_err(stft_output(Xt, output), ref)
        assert chk < 1e-12, (s, framing, chk)
        tok = framing.replace("_", "-")
        name = "stft_%s_%d_%d_%d_%s_%s_%s" % (s, n_fft, win, hop, window, tok, output)
        # float32 error for these cases measured with torch.stft in float32 on the same layout
        Xt32 = torch.stft(torch.from_numpy(f32(xp)), n_fft, hop, n_fft, wfull.float(), center=False,
                          onesided=True, return_complex=True).numpy()[:, :n_frames]
        stft_case(name, s, n_fft, win, hop, window, framing, None, output, ref, chk,
                  rel_err(stft_output(Xt32.astype(np.complex128), output), ref))

    # ---------------------------------------------------------------- mel filterbanks
    # (sample_rate, n_fft, n_mels, f_min, f_max, mel_scale, norm)
    melfb_cases = [
        (8000, 256, 23, 0.0, 4000.0, "htk", None),
        (8000, 512, 40, 20.0, 4000.0, "slaney", "slaney"),
        (16000, 512, 40, 0.0, 8000.0, "htk", "slaney"),
        (16000, 1024, 80, 20.0, 7600.0, "slaney", None),
        (16000, 256, 64, 300.0, 7600.0, "htk", None),
        (22050, 1024, 64, 0.0, 11025.0, "slaney", "slaney"),
        (22050, 1024, 128, 20.0, 11025.0, "htk", "slaney"),
        (22050, 512, 40, 300.0, 4000.0, "slaney", None),
        (44100, 1024, 80, 0.0, 22050.0, "slaney", "slaney"),
        (44100, 2048, 40, 0.0, 22050.0, "htk", None),
        (44100, 512, 64, 300.0, 7600.0, "htk", "slaney"),
        (44100, 512, 23, 20.0, 22050.0, "slaney", None),
        (48000, 2048, 128, 20.0, 24000.0, "slaney", "slaney"),
        (48000, 512, 80, 0.0, 7600.0, "htk", None),
        (48000, 512, 40, 300.0, 24000.0, "htk", "slaney"),
        (8000, 512, 64, 0.0, 4000.0, "slaney", None),
    ]
    for (sr, n_fft, n_mels, f_min, f_max, scale, norm) in melfb_cases:
        assert sr % 2 == 0
        n_freqs = n_fft // 2 + 1
        ref = torch_mel_fb(sr, n_freqs, n_mels, f_min, f_max, scale, norm)
        lib = np_mel_fb(sr, n_freqs, n_mels, f_min, f_max, scale, norm)
        diff = float(np.max(np.abs(ref - lib)))
        assert diff < 1e-9 * np.max(np.abs(ref)), (sr, n_fft, n_mels, diff)
        r32 = torch_mel_fb(sr, n_freqs, n_mels, f_min, f_max, scale, norm, dtype=torch.float32)
        name = "melfb_%d_%d_%d_%g_%g_%s_%s" % (sr, n_fft, n_mels, f_min, f_max, scale, norm or "none")
        fname = save(DATA, name + ".npy", ref)
        cases.append({
            "kind": "melfb", "name": name, "sample_rate": sr, "n_freqs": n_freqs, "n_fft": n_fft,
            "n_mels": n_mels, "f_min": f_min, "f_max": f_max, "mel_scale": scale, "norm": norm,
            "expected": fname, "shape": list(ref.shape), "max_abs": sig(np.max(np.abs(ref))),
            "zero_filters": int(np.sum(ref.max(axis=0) == 0.0)),
            "crosscheck_max_abs_diff": sig(diff), "float32_rel_err": sig(rel_err(r32, ref)),
        })

    # ---------------------------------------------------------------- mel spectrograms
    # (signal, n_fft, win, hop, f_min, f_max, n_mels, power, pad_mode, norm, mel_scale)
    melspec_cases = [
        ("chirp16k", 512, 400, 160, 0.0, 8000.0, 40, 2.0, "reflect", None, "htk"),
        ("tones22k", 1024, 1024, 256, 20.0, 11025.0, 64, 2.0, "reflect", "slaney", "slaney"),
        ("speech44k", 2048, 2048, 512, 0.0, 22050.0, 128, 1.0, "constant", "slaney", "htk"),
        ("noise8k", 256, 200, 100, 0.0, 4000.0, 23, 2.0, "reflect", None, "slaney"),
        ("speech44k", 1024, 1024, 256, 0.0, 22050.0, 80, 2.0, "reflect", "slaney", "slaney"),
    ]
    melspec_ref = {}
    for (s, n_fft, win, hop, f_min, f_max, n_mels, power, pad_mode, norm, scale) in melspec_cases:
        x, sr = signals[s]

        def mk(dtype):
            with default_dtype(dtype), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = AT.MelSpectrogram(sample_rate=sr, n_fft=n_fft, win_length=win, hop_length=hop,
                                      f_min=f_min, f_max=f_max, n_mels=n_mels,
                                      window_fn=torch.hann_window, power=power, normalized=False,
                                      center=True, pad_mode=pad_mode, norm=norm, mel_scale=scale)
                return m(torch.from_numpy(x).to(dtype)).numpy()

        ref = mk(torch.float64)
        r32 = mk(torch.float32)
        spec = np.abs(np_stft_torch_convention(x, n_fft, win, hop, "hann", True, pad_mode)) ** power
        indep = np_mel_fb(sr, n_fft // 2 + 1, n_mels, f_min, f_max, scale, norm).T @ spec
        chk = rel_err(indep, ref)
        assert chk < 1e-10, chk
        name = "melspec_%s_%d_%d_%d_%d_p%d_%s" % (s, n_fft, win, hop, n_mels, int(power), scale)
        melspec_ref[name] = ref
        fname = save(DATA, name + ".npy", ref)
        cases.append({
            "kind": "melspec", "name": name, "signal": s, "sample_rate": sr, "n_fft": n_fft,
            "win_length": win, "hop_length": hop, "f_min": f_min, "f_max": f_max, "n_mels": n_mels,
            "window": "hann", "power": power, "normalized": False, "center": True,
            "pad_mode": pad_mode, "norm": norm, "mel_scale": scale,
            "expected": fname, "shape": list(ref.shape), "max_abs": sig(np.max(np.abs(ref))),
            "crosscheck_rel_err": sig(chk), "float32_rel_err": sig(rel_err(r32, ref)),
        })

    # ---------------------------------------------------------------- decibels
    mel_power = melspec_ref["melspec_speech44k_1024_1024_256_80_p2_slaney"]
    X = torch_stft(signals["chirp16k"][0], 512, 400, 160, "hann", True, "reflect")
    magnitude = np.abs(X)
    batched = np.stack([mel_power * 1.0, mel_power * 1e-3, mel_power * 1e4])
    zeros_in = np.abs(torch_stft(signals["noise8k"][0], 256, 256, 128, "hann", True, "reflect")) ** 2
    zeros_in[::5, :] = 0.0      # every 5th frequency row exactly zero
    zeros_in[:, 3] = 0.0        # one whole frame exactly zero
    zeros_in[zeros_in < 1e-6] = 0.0  # plus whatever is tiny anyway
    inputs = {
        "db_in_melpower": mel_power,
        "db_in_magnitude": magnitude,
        "db_in_melpower_batch3": batched,
        "db_in_power_zeros": zeros_in,
    }
    in_vals = {}
    for k, v in inputs.items():
        save(DATA, k + ".npy", v)
        in_vals[k] = f32(v).astype(np.float64)  # reference from the stored float32 values
    assert np.sum(in_vals["db_in_power_zeros"] == 0.0) > 0

    # (name, input, multiplier, amin, ref, top_db)
    db_cases = [
        ("db_power_ref1_topnone", "db_in_melpower", 10.0, 1e-10, 1.0, None),
        ("db_power_ref1_top80", "db_in_melpower", 10.0, 1e-10, 1.0, 80.0),
        ("db_power_ref1_top40", "db_in_melpower", 10.0, 1e-10, 1.0, 40.0),
        ("db_magnitude_ref1_topnone", "db_in_magnitude", 20.0, 1e-5, 1.0, None),
        ("db_magnitude_ref1_top60", "db_in_magnitude", 20.0, 1e-5, 1.0, 60.0),
        ("db_magnitude_ref2p5_topnone", "db_in_magnitude", 20.0, 1e-5, 2.5, None),
        ("db_magnitude_ref2p5_top60", "db_in_magnitude", 20.0, 1e-5, 2.5, 60.0),
        ("db_power_batch3_ref1_top80", "db_in_melpower_batch3", 10.0, 1e-10, 1.0, 80.0),
        ("db_power_zeros_ref1_topnone", "db_in_power_zeros", 10.0, 1e-10, 1.0, None),
    ]
    for (name, inp, mult, amin, refv, top_db) in db_cases:
        x = in_vals[inp]
        ref = torch_db(x, mult, amin, refv, top_db)
        chk = float(np.max(np.abs(np_db(x, mult, amin, refv, top_db) - ref)))
        assert chk < 1e-9, chk
        r32 = torch_db(f32(x), mult, amin, refv, top_db, dtype=torch.float32)
        fname = save(DATA, name + ".npy", ref)
        cases.append({
            "kind": "db", "name": name, "input": inp + ".npy", "multiplier": mult, "amin": amin,
            "ref": refv, "top_db": top_db, "expected": fname, "shape": list(ref.shape),
            "min": sig(np.min(ref)), "max": sig(np.max(ref)),
            "crosscheck_max_abs_diff": sig(chk),
            "float32_max_abs_diff_db": sig(float(np.max(np.abs(r32 - ref)))),
        })

    # ---------------------------------------------------------------- manifest + checks
    with open(os.path.join(HERE, "manifest.json"), "w", newline="\n") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=False, allow_nan=False)
        fh.write("\n")

    for rel, arr in WRITTEN.items():
        back = np.load(os.path.join(HERE, rel))
        assert back.dtype == np.dtype("<f4") and back.flags["C_CONTIGUOUS"], rel
        assert back.shape == arr.shape and np.array_equal(back, arr), rel
        assert np.all(np.isfinite(back)), rel
    for c in cases:
        for key in ("expected", "input"):
            if key in c:
                assert os.path.isfile(os.path.join(DATA, c[key])), c[key]
        assert list(np.load(os.path.join(DATA, c["expected"])).shape) == c["shape"], c["name"]
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names))

    counts = {}
    for c in cases:
        key = c["kind"] + ("" if c["kind"] != "stft" else
                           (" (torch framing)" if c["framing"] in ("center", "nocenter") else " (kapre framing)"))
        counts[key] = counts.get(key, 0) + 1
    data_bytes = sum(os.path.getsize(os.path.join(DATA, f)) for f in os.listdir(DATA))
    print("cases:", json.dumps(counts), "total", len(cases))
    print("files written and read back:", len(WRITTEN))
    print("data/ total bytes:", data_bytes)
    assert data_bytes < 4.0e6, data_bytes
    print("\nfiles:")
    total = 0
    for root, _, files in sorted(os.walk(HERE)):
        for f in sorted(files):
            p = os.path.join(root, f)
            if "__pycache__" in p:
                continue
            total += os.path.getsize(p)
            print("  %9d  %s" % (os.path.getsize(p), os.path.relpath(p, HERE)))
    print("total bytes (Fixtures/):", total)


if __name__ == "__main__":
    print("python", sys.version.split()[0])
    main()
