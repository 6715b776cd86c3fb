#!/usr/bin/env python3
"""The benchmark workloads through PyTorch on the GPU, for comparison with the .NET numbers (gpu-bundle run.sh).

Same maths as the .NET candidates: periodic Hann, centred STFT with reflect padding, power, HTK mel filterbank,
10*log10 with top_db 80 per example. Two candidates: torchaudio's MelSpectrogram + AmplitudeToDB (when torchaudio is
installed; each clip is its own example for top_db), and the same steps written with torch ops. Prints a markdown
table: audio-seconds per second, median of 7 timed runs after a warm-up, CUDA synchronised, data from and to the host.
"""
import math, statistics, sys, time
import torch

def hz_to_mel(f): return 2595.0 * math.log10(1.0 + f / 700.0)
def mel_to_hz(m): return 700.0 * (10 ** (m / 2595.0) - 1.0)

def mel_fb(n_freqs, n_mels, sr, device):
    try:
        import torchaudio
        return torchaudio.functional.melscale_fbanks(n_freqs, 0.0, sr / 2, n_mels, sr).to(device)
    except Exception:
        freqs = torch.linspace(0, sr / 2, n_freqs, dtype=torch.float64)
        m = torch.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2, dtype=torch.float64)
        f = torch.tensor([mel_to_hz(v) for v in m.tolist()], dtype=torch.float64)
        slopes = f.unsqueeze(0) - freqs.unsqueeze(1)
        down = -slopes[:, :-2] / (f[1:-1] - f[:-2]); up = slopes[:, 2:] / (f[2:] - f[1:-1])
        return torch.clamp(torch.minimum(down, up), min=0).float().to(device)

WORKLOADS = [("W1", 64, 1.0, 16000, 512, 400, 160, 64), ("W1x256", 256, 1.0, 16000, 512, 400, 160, 64),
             ("W2", 1, 30.0, 22050, 2048, 2048, 512, 128), ("W3", 16, 4.0, 16000, 1024, 1024, 256, 128)]

def main():
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"PyTorch {torch.__version__} on {torch.cuda.get_device_name(0) if device.type == 'cuda' else 'cpu'}")
    print("\n| workload | candidate | audio-s per s | ms per run |\n| --- | --- | ---: | ---: |")
    g = torch.Generator().manual_seed(1)
    for name, clips, seconds, sr, n_fft, win, hop, mels in WORKLOADS:
        x_host = (torch.rand(clips, int(round(seconds * sr)), generator=g) * 2 - 1) * 0.5
        fb = mel_fb(n_fft // 2 + 1, mels, sr, device)
        window = torch.hann_window(win, device=device)
        def naive():
            x = x_host.to(device)
            spec = torch.stft(x, n_fft, hop, win, window, center=True, pad_mode="reflect", return_complex=True).abs().pow(2)
            db = 10 * torch.log10(torch.clamp(torch.matmul(fb.t(), spec), min=1e-10))
            db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - 80)
            return db.cpu()
        candidates = [(f"PyTorch {torch.__version__} ops (same maths)", naive)]
        try:
            import torchaudio
            melspec = torchaudio.transforms.MelSpectrogram(sr, n_fft=n_fft, win_length=win, hop_length=hop, n_mels=mels,
                                                           center=True, pad_mode="reflect", power=2.0, mel_scale="htk").to(device)
            to_db = torchaudio.transforms.AmplitudeToDB("power", top_db=80).to(device)
            def ta():
                return to_db(melspec(x_host.to(device)).unsqueeze(1)).squeeze(1).cpu()
            candidates.insert(0, (f"torchaudio {torchaudio.__version__} MelSpectrogram + AmplitudeToDB", ta))
        except Exception as e:
            print(f"(torchaudio unavailable: {e})", file=sys.stderr)
        for label, run in candidates:
            with torch.no_grad():
                run()
                times = []
                for _ in range(7):
                    if device.type == "cuda": torch.cuda.synchronize()
                    t0 = time.perf_counter(); run()
                    if device.type == "cuda": torch.cuda.synchronize()
                    times.append((time.perf_counter() - t0) * 1000)
            ms = statistics.median(times)
            print(f"| {name} | {label} | {clips * seconds / (ms / 1000):.0f} | {ms:.2f} |")

if __name__ == "__main__":
    sys.exit(main())
