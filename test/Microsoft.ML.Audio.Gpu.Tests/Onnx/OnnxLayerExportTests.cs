using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Onnx;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Onnx;

/// <summary>Each layer's ONNX form, run by ONNX Runtime, against the layer itself on the same input.</summary>
[TestClass]
public sealed class OnnxLayerExportTests
{
    private const int Batch = 3, Samples = 4000;

    /// <summary>Three different clips: noise, a tone in noise, and a chirp with silence (so the dB floor is reached).</summary>
    private static float[] Audio()
    {
        var random = new Random(5);
        var x = new float[Batch * Samples];
        for (int t = 0; t < Samples; t++)
        {
            x[t] = (float)(random.NextDouble() - 0.5);
            x[Samples + t] = (float)(0.6 * Math.Sin(2 * Math.PI * 440 * t / 8000.0) + 0.01 * (random.NextDouble() - 0.5));
            x[2 * Samples + t] = t < Samples / 2 ? (float)(0.3 * Math.Sin(2 * Math.PI * (200 + 0.5 * t) * t / 8000.0)) : 0f;
        }
        return x;
    }

    private static byte[] Export(nn.Module<Tensor, Tensor> layer, long[] inputShape, OnnxStftForm form)
    {
        using var stream = new MemoryStream();
        AudioOnnxExport.ExportLayer(layer, inputShape, stream, new AudioOnnxExportOptions { StftForm = form });
        return stream.ToArray();
    }

    private static float[] Torch(nn.Module<Tensor, Tensor> layer, float[] input, long[] shape)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return Compare.ToArray(layer.call(tensor(input, shape)));
    }

    [TestMethod]
    [DataRow(OnnxStftForm.Convolution, FramePadding.Center, PadMode.Reflect, SpectrumType.Power)]
    [DataRow(OnnxStftForm.Convolution, FramePadding.Center, PadMode.Constant, SpectrumType.Magnitude)]
    [DataRow(OnnxStftForm.Convolution, FramePadding.Valid, PadMode.Reflect, SpectrumType.Power)]
    [DataRow(OnnxStftForm.Convolution, FramePadding.PadBeginAndEnd, PadMode.Reflect, SpectrumType.Magnitude)]
    [DataRow(OnnxStftForm.Convolution, FramePadding.Same, PadMode.Reflect, SpectrumType.Power)]
    [DataRow(OnnxStftForm.StftOperator, FramePadding.Center, PadMode.Reflect, SpectrumType.Power)]
    [DataRow(OnnxStftForm.StftOperator, FramePadding.NoCenter, PadMode.Reflect, SpectrumType.Magnitude)]
    [DataRow(OnnxStftForm.StftOperator, FramePadding.PadEnd, PadMode.Reflect, SpectrumType.Power)]
    public void Stft_MatchesTheLayer(OnnxStftForm form, FramePadding padding, PadMode padMode, SpectrumType output)
    {
        using var stft = AudioLayers.Stft(n_fft: 256, win_length: 200, hop_length: 80, window: WindowType.Hann, padding: padding, pad_mode: padMode, output: output);
        var audio = Audio();
        var expected = Torch(stft, audio, [Batch, Samples]);
        var got = (float[])OnnxRun.Run(Export(stft, [Samples], form), "input", audio, [Batch, Samples])["output"];
        Assert.HasCount((int)(Batch * 129 * stft.frame_count(Samples)), got, "shape: (batch, n_fft / 2 + 1, frames)");
        Compare.RelativeToMax(got, expected, OnnxTolerances.SpectrumRel, $"{form} {padding} {padMode} {output}");
    }

    [TestMethod]
    [DataRow(OnnxStftForm.Convolution, 2.0)]
    [DataRow(OnnxStftForm.StftOperator, 2.0)]
    [DataRow(OnnxStftForm.Convolution, 1.0)]
    public void LogMelSpectrogram_WithTopDb_MatchesTheLayer_ToDecibelTolerance(OnnxStftForm form, double power)
    {
        using var mel = AudioLayers.MelSpectrogram(8000, n_fft: 256, win_length: 200, hop_length: 80, power: power, n_mels: 40,
            mel_scale: MelScale.Slaney, norm: MelNorm.Slaney, to_db: true, top_db: 80);
        var audio = Audio();
        var expected = Torch(mel, audio, [Batch, Samples]);
        var got = (float[])OnnxRun.Run(Export(mel, [Samples], form), "input", audio, [Batch, Samples])["output"];
        Assert.HasCount((int)(Batch * 40 * mel.stft.frame_count(Samples)), got);
        // Within 60 dB of each example's peak the 1e-3 dB; in the bottom 20 dB of the 80 dB range a looser bound
        // (see OnnxTolerances.DecibelNearFloorAbs).
        int per = got.Length / Batch;
        double worstTop = 0, worstFloor = 0;
        for (int b = 0; b < Batch; b++)
        {
            float peak = expected.Skip(b * per).Take(per).Max();
            for (int i = b * per; i < (b + 1) * per; i++)
            {
                double diff = Math.Abs(got[i] - expected[i]);
                if (expected[i] >= peak - 60) worstTop = Math.Max(worstTop, diff);
                else worstFloor = Math.Max(worstFloor, diff);
            }
        }
        Console.WriteLine($"{form} power {power}: max |dB diff| {worstTop:G3} within 60 dB of the peak, {worstFloor:G3} below");
        Assert.IsLessThanOrEqualTo(OnnxTolerances.DecibelAbs, worstTop, $"log-mel in dB within 60 dB of the peak, {form}");
        Assert.IsLessThanOrEqualTo(OnnxTolerances.DecibelNearFloorAbs, worstFloor, $"log-mel in dB more than 60 dB below the peak, {form}");
    }

    [TestMethod]
    public void MelAndLogFrequencyFilterbanks_AndMfcc_MatchTheLayers()
    {
        using var fb = AudioLayers.MelFilterbank(8000, n_fft: 256, n_mels: 32);
        using var mfcc = AudioLayers.Mfcc(n_mfcc: 13, n_mels: 32);
        var random = new Random(2);
        var spectrum = Enumerable.Range(0, Batch * 129 * 7).Select(_ => (float)random.NextDouble()).ToArray();
        var mels = (float[])OnnxRun.Run(Export(fb, [129, 7], OnnxStftForm.Convolution), "input", spectrum, [Batch, 129, 7])["output"];
        Compare.RelativeToMax(mels, Torch(fb, spectrum, [Batch, 129, 7]), OnnxTolerances.SpectrumRel, "mel filterbank as MatMul");
        // Kapre's log-frequency filterbank is an ApplyFilterbank too: the same MatMul with its filters.
        using var logFrequency = AudioLayers.LogFrequencyFilterbank(8000, n_fft: 256, n_bins: 48);
        var bins = (float[])OnnxRun.Run(Export(logFrequency, [129, 7], OnnxStftForm.Convolution), "input", spectrum, [Batch, 129, 7])["output"];
        Compare.RelativeToMax(bins, Torch(logFrequency, spectrum, [Batch, 129, 7]), OnnxTolerances.SpectrumRel, "log-frequency filterbank as MatMul");
        var logMel = mels.Select(v => 10 * MathF.Log10(v + 1e-6f)).ToArray();
        var coefficients = (float[])OnnxRun.Run(Export(mfcc, [32, 7], OnnxStftForm.Convolution), "input", logMel, [Batch, 32, 7])["output"];
        Compare.RelativeToMax(coefficients, Torch(mfcc, logMel, [Batch, 32, 7]), OnnxTolerances.SpectrumRel, "MFCC DCT as MatMul");
    }

    [TestMethod]
    public void ComplexStft_FailsTheExport_NamingTheOption()
    {
        using var stft = AudioLayers.Stft(n_fft: 256, output: SpectrumType.Complex);
        var e = Assert.ThrowsExactly<NotSupportedException>(() => Export(stft, [Samples], OnnxStftForm.Convolution));
        StringAssert.Contains(e.Message, "output = Complex");
    }
}
