using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class ConvStftTests
{
    /// <summary>A float32 conv1d sums n_fft products in another order than the FFT: the error grows with n_fft,
    /// relative to max |X|. Measured: 1.2e-6 at most (n_fft 256 to 1024).</summary>
    private const double ConvStftRel = 1e-4;

    [TestMethod]
    [DataRow(512, 400, 160, FramePadding.Center, PadMode.Constant, SpectrumType.Power)]
    [DataRow(512, 512, 128, FramePadding.Center, PadMode.Reflect, SpectrumType.Magnitude)]
    [DataRow(256, 200, 100, FramePadding.NoCenter, PadMode.Reflect, SpectrumType.Power)]
    [DataRow(1024, 1024, 256, FramePadding.Center, PadMode.Constant, SpectrumType.Magnitude)]
    [DataRow(256, 256, 64, FramePadding.Center, PadMode.Constant, SpectrumType.Complex)]
    public void Forward_AtInitialisation_MatchesStft(int nFft, int win, int hop, FramePadding padding, PadMode padMode, SpectrumType output)
    {
        using var scope = NewDisposeScope();
        var (signal, _) = ReferenceFixtures.Signal("chirp16k");
        var x = tensor(signal.Data);
        using var conv = AudioLayers.ConvStft(nFft, win, hop, WindowType.Hann, padding, padMode, output);
        using var stft = AudioLayers.Stft(nFft, win, hop, WindowType.Hann, padding, padMode, output);
        var expected = stft.call(x);
        var actual = conv.call(x);
        Compare.Shape(actual, expected.shape, "conv STFT");
        if (output == SpectrumType.Complex) { expected = view_as_real(expected); actual = view_as_real(actual); }
        Compare.RelativeToMax(Compare.ToArray(actual), Compare.ToArray(expected), ConvStftRel, $"{nFft}/{win}/{hop} {padding} {padMode} {output}");
    }

    [TestMethod]
    [DataRow(new long[] { 4000 })]
    [DataRow(new long[] { 3, 4000 })]
    [DataRow(new long[] { 3, 2, 4000 })]
    public void Forward_KeepsLeadingDimensions(long[] input)
    {
        using var scope = NewDisposeScope();
        using var conv = AudioLayers.ConvStft(256, hop_length: 100, padding: FramePadding.Center, pad_mode: PadMode.Constant);
        var y = conv.call(randn(input, generator: new Generator(seed: 6)));
        Compare.Shape(y, [.. input[..^1], 129, 41], "conv STFT");
        Assert.AreEqual(41, conv.frame_count(4000));
    }

    [TestMethod]
    public void Kernels_ReceiveGradient_AndChange_WhenTrained()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(7);
        using var conv = AudioLayers.ConvStft(128, hop_length: 64, output: SpectrumType.Magnitude, pad_mode: PadMode.Constant);
        Assert.AreEqual(1, conv.parameters().Count(), "the kernels are the only parameter");
        var before = Compare.ToArray(conv.Kernel);
        var x = randn(4, 2000, generator: new Generator(seed: 8));
        // Ask for the spectrum of half the signal: the kernels must change to get there.
        Tensor target;
        using (no_grad()) { using var half = 0.5.ToScalar(); target = conv.call(x).mul(half); }
        using var optimizer = new Microsoft.ML.Audio.Gpu.Training.HeldScalarAdamW(conv.parameters(), lr: 1e-3, weight_decay: 0);
        double first = 0, last = 0;
        for (int step = 0; step < 15; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(conv.call(x), target);
            loss.backward();
            if (step == 0)
            {
                Assert.IsNotNull(conv.Kernel.grad, "no gradient reached the kernels");
                Assert.IsGreaterThan(0.0, conv.Kernel.grad.abs().sum().item<float>());
                first = loss.item<float>();
            }
            last = loss.item<float>();
            optimizer.step();
        }
        Assert.IsFalse(before.SequenceEqual(Compare.ToArray(conv.Kernel)), "training did not change the kernels");
        Assert.IsLessThan(first, last, $"loss did not fall: {first} -> {last}");
        Assert.IsFalse(Compare.ToArray(conv.Kernel).Any(float.IsNaN), "NaN in the kernels");
    }

    [TestMethod]
    public void NotTrainable_HasTheKernelsAsABuffer()
    {
        using var conv = AudioLayers.ConvStft(256, trainable: false);
        Assert.AreEqual(0, conv.parameters().Count());
        Assert.AreEqual(1, conv.buffers().Count());
        conv.to(ScalarType.Float64);
        Assert.AreEqual(ScalarType.Float64, conv.Kernel.dtype, "Module.to() updated the kernel field");
    }

    [TestMethod]
    public void RejectsKapreFraming()
    {
        var e = Assert.Throws<ArgumentException>(() => AudioLayers.ConvStft(256, padding: FramePadding.Same));
        Assert.AreEqual("padding", e.ParamName);
    }

    [TestMethod]
    public void RejectsZeroHop()
    {
        var e = Assert.Throws<ArgumentException>(() => AudioLayers.ConvStft(256, hop_length: 0));
        Assert.AreEqual("hop_length", e.ParamName);
    }

    [TestMethod]
    public void RejectsSignalShorterThanAFrame()
    {
        using var conv = AudioLayers.ConvStft(256, padding: FramePadding.NoCenter);
        var e = Assert.Throws<ArgumentException>(() => conv.call(zeros(100)));
        Assert.AreEqual("input", e.ParamName);
    }
}
