#!/usr/bin/env python3
"""Compares .NET log-mel rows that `--parity --dump DIR` wrote with torchaudio's, on a device of this machine.

    python3 build/parity-torchaudio.py DIR [DEVICE]      -> a markdown table on stdout

DIR: the dump (audio, the .NET MelSpectrogramGpu rows and their settings). DEVICE: where torchaudio computes its side,
by default the device the .NET rows were computed on. The device check uses both ways: the rows the .NET transforms
computed on the GPU (when TorchSharp's bridge loads there) against torchaudio on that GPU, and rows computed on a CPU
with NuGet's libtorch (carried in the bundle, so measurable whatever the bridge does) against torchaudio on the GPU.
torchaudio.transforms.MelSpectrogram + AmplitudeToDB(top_db=80), one row at a time (the .NET transform takes the 80 dB
range per row; torchaudio over a whole 3-D batch), with TF32 off so that float32 matrix products are float32.
"""
import json
import os
import sys

import numpy as np
import torch
import torchaudio

folder = sys.argv[1]
cfg = json.load(open(os.path.join(folder, "parity.json")))
made_on = cfg["device"]
device = sys.argv[2] if len(sys.argv) > 2 else made_on
if device.startswith("cuda"):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
clips, samples, mels, frames = cfg["clips"], cfg["samples"], cfg["n_mels"], cfg["frames"]
audio = np.fromfile(os.path.join(folder, "audio.f32"), dtype=np.float32).reshape(clips, samples)
dotnet = np.fromfile(os.path.join(folder, "logmel.f32"), dtype=np.float32).reshape(clips, mels, frames)

mel = torchaudio.transforms.MelSpectrogram(
    sample_rate=cfg["sample_rate"], n_fft=cfg["n_fft"], win_length=cfg["win_length"], hop_length=cfg["hop_length"],
    n_mels=mels, mel_scale=cfg["mel_scale"], norm=cfg["norm"], center=cfg["center"], pad_mode=cfg["pad_mode"],
    power=cfg["power"]).to(device)
to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=cfg["top_db"]).to(device)
worst_top = worst_all = 0.0
with torch.no_grad():
    for i in range(clips):
        x = torch.from_numpy(audio[i]).to(device)
        ref = to_db(mel(x)).cpu().numpy()
        diff = np.abs(ref - dotnet[i])
        worst_all = max(worst_all, float(diff.max()))
        worst_top = max(worst_top, float(diff[ref >= ref.max() - 60].max()))

print(f"torch {torch.__version__}, torchaudio {torchaudio.__version__}, device {device}"
      + (f" ({torch.cuda.get_device_name(0)})" if device.startswith("cuda") else "") + ", TF32 off; "
      + f".NET rows computed on {made_on}" + (f" ({cfg['made_with']})" if cfg.get("made_with") else ""))
print()
print("| log-mel in dB, .NET MelSpectrogramGpu against torchaudio | max abs. difference |")
print("| --- | ---: |")
print(f"| within 60 dB of each row's peak | {worst_top:.3g} dB |")
print(f"| all values (80 dB range) | {worst_all:.3g} dB |")
