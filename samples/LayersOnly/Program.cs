using Microsoft.ML.Audio.Gpu.Layers;
using static TorchSharp.torch;

// A log-mel spectrogram of two tones with the layers alone, as a TorchSharp model would compute it on its input:
// the layer runs on whatever device the tensors are on, and gradients flow through it.
const int SampleRate = 16000;
double[] tones = args.Length > 0 ? [.. args.Select(double.Parse)] : [440, 3000];

var samples = new float[SampleRate];
for (int i = 0; i < samples.Length; i++)
    samples[i] = (float)tones.Sum(f => 0.3 * Math.Sin(2 * Math.PI * f * i / SampleRate));

using var melspec = AudioLayers.MelSpectrogram(SampleRate, n_fft: 512, win_length: 400, hop_length: 160, n_mels: 64, to_db: true, top_db: 80);
using var scope = NewDisposeScope();
using var noGrad = no_grad();
var waveform = tensor(samples).unsqueeze(0);            // (batch 1, time 16000)
var logmel = melspec.call(waveform);                    // (1, 64 mels, 101 frames) in dB
var bands = logmel[0].mean([1]);                        // average level of each mel band over time
Console.WriteLine($"log-mel spectrogram: ({string.Join(", ", logmel.shape)}), {logmel.min().item<float>():F1} to {logmel.max().item<float>():F1} dB");

// Each tone's band is the band whose filter responds most to it (filterbank columns: frequency bins x mels).
var filters = melspec.mel.Filterbank;                   // (257 bins, 64 mels)
foreach (var f in tones)
{
    long bin = (long)Math.Round(f / SampleRate * 512);
    long band = filters[bin].argmax().item<long>();
    Console.WriteLine($"{f} Hz: mel band {band}, {bands[band].item<float>():F1} dB (the median band: {bands.median().item<float>():F1} dB)");
}
