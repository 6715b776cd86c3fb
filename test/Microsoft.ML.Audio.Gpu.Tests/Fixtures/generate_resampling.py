#!/usr/bin/python3
"""Reference fixtures for the third group of Kapre.MLNet layers: band-limited resampling (Resample).

What it writes (paths relative to this file):
  resampling/*.npy          expected outputs, float32 '<f4', C order (numpy.save)
  resampling/manifest.json  every case with its parameters and file names

It reads the signals of generate.py (data/signal_*.npy) and makes no new audio. The composed STFT helpers
(StftMagnitudePhase, PerfectReconstructionStftIstft) need no fixture: their tests compare with the atomic layers and
with the input signal.

References:
  resample  torchaudio.functional.resample (0.13: method names "sinc_interpolation", the default, and "kaiser_window";
            torchaudio 2.x calls them "sinc_interp_hann" and "sinc_interp_kaiser"), run on the float32 values of the
            signal widened to float64, so that its kernel is built in float64 too

torch.set_default_dtype(torch.float64) is set first; every reference is computed in float64 from the float32 values
that are stored, and only the result is rounded to float32.

Generated with (also written to resampling/manifest.json under "versions"):
  python 3.11.2, torch 1.13.0a0, torchaudio 0.13.1, numpy 1.24.2, scipy 1.10.1 (Debian /usr/bin/python3)

Rerun from any directory:
  /usr/bin/python3 test/Microsoft.ML.Audio.Gpu.Tests/Fixtures/generate_resampling.py
The output is deterministic (no randomness); about 0.2 MB.
"""

import math

import torch
import torchaudio.functional as AF

from fixturelib import CaseSet, signal

CASES = CaseSet("resampling", "generate_resampling.py", "Reference fixtures for Resample",
                signals_from="data/signal_<name>.npy (generate.py)")

METHODS = {"sinc_interp_hann": "sinc_interpolation", "sinc_interp_kaiser": "kaiser_window"}


# --------------------------------------------------------------------------- resample

def resample_cases():
    # (signal, its rate, new rate, method, lowpass_filter_width, rolloff, beta)
    grid = [("speech44k", 44100, 16000, "sinc_interp_hann", 6, 0.99, None),
            ("chirp16k", 16000, 8000, "sinc_interp_hann", 6, 0.99, None),
            ("noise8k", 8000, 16000, "sinc_interp_hann", 6, 0.99, None),
            ("tones22k", 22050, 16000, "sinc_interp_hann", 6, 0.99, None),
            ("speech44k", 44100, 16000, "sinc_interp_kaiser", 6, 0.99, None),
            ("noise8k", 8000, 16000, "sinc_interp_kaiser", 6, 0.99, None),
            ("tones22k", 22050, 16000, "sinc_interp_kaiser", 16, 0.945, 8.555),
            ("chirp16k", 16000, 8000, "sinc_interp_hann", 24, 0.9, None)]
    for sig_name, orig, new, method, width, rolloff, beta in grid:
        x = torch.from_numpy(signal(sig_name))
        y = AF.resample(x, orig, new, lowpass_filter_width=width, rolloff=rolloff, resampling_method=METHODS[method],
                        beta=beta)
        assert y.dtype == torch.float64
        assert y.shape[-1] == math.ceil(x.shape[-1] * new / orig)
        name = f"resample_{sig_name}_{orig}_{new}_{method}_w{width}_r{rolloff}" + ("" if beta is None else f"_b{beta}")
        CASES.add("resample", name, signal=sig_name, orig_freq=orig, new_freq=new, resampling_method=method,
            lowpass_filter_width=width, rolloff=rolloff, beta=beta, expected=CASES.save(name + ".npy", y))


def main():
    resample_cases()
    CASES.write_manifest()


if __name__ == "__main__":
    main()
