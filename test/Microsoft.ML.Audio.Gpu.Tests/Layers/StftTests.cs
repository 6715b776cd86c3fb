using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class StftTests
{
    public static IEnumerable<object[]> StftCases => ReferenceFixtures.CaseNames("stft");

    public static IEnumerable<object[]> ComplexCases => ReferenceFixtures.CaseNames("stft", c => c.GetProperty("output").GetString() == "complex");

    private static Stft Build(System.Text.Json.JsonElement c, SpectrumType? output = null) => AudioLayers.Stft(
        n_fft: c.Long("n_fft"), win_length: c.Long("win_length"), hop_length: c.Long("hop_length"),
        window: ReferenceFixtures.Window(c.String("window")!), padding: ReferenceFixtures.Framing(c.String("framing")!),
        pad_mode: ReferenceFixtures.PadMode(c.String("pad_mode")), output: output ?? ReferenceFixtures.Output(c.String("output")!));

    [TestMethod]
    [DynamicData(nameof(StftCases))]
    public void Forward_MatchesReference(string name)
    {
        var c = ReferenceFixtures.Case(name);
        var (signal, _) = ReferenceFixtures.Signal(c.String("signal")!);
        var expected = ReferenceFixtures.Data(c.String("expected")!);
        using var scope = NewDisposeScope();
        using var stft = Build(c);

        var x = tensor(signal.Data);
        var y = stft.call(x);
        if (stft.output == SpectrumType.Complex)
        {
            Assert.AreEqual(ScalarType.ComplexFloat32, y.dtype);
            y = view_as_real(y);
        }
        Assert.AreEqual(expected.Shape[1], stft.frame_count(signal.Length), "frame_count disagrees with the reference's frame count");
        Compare.RelativeToMax(y, expected, Tolerances.StftRel, name);
    }

    [TestMethod]
    [DynamicData(nameof(ComplexCases))]
    public void MagnitudeAndPhase_MatchReferenceSpectrum(string name)
    {
        var c = ReferenceFixtures.Case(name);
        var (signal, _) = ReferenceFixtures.Signal(c.String("signal")!);
        var reference = ReferenceFixtures.Data(c.String("expected")!); // [F, T, 2]
        using var scope = NewDisposeScope();
        using var stft = Build(c);
        var spec = stft.call(tensor(signal.Data));
        var refSpec = view_as_complex(tensor(reference.Data).reshape(reference.Shape).to(ScalarType.Float64));

        var mag = AudioLayers.Magnitude().call(spec);
        var refMag = refSpec.abs().to(ScalarType.Float32);
        Compare.RelativeToMax(Compare.ToArray(mag), Compare.ToArray(refMag), Tolerances.StftRel, name + " magnitude");

        // Phase is only defined where there is energy: compare where |X| is above 1e-3 of its maximum,
        // as the wrapped difference of angles.
        var phase = AudioLayers.Phase().call(spec).to(ScalarType.Float64);
        var refPhase = refSpec.angle();
        using var pi = Math.PI.ToScalar();
        using var twoPi = (2 * Math.PI).ToScalar();
        using var relative = 1e-3.ToScalar();
        var diff = phase.sub(refPhase).add(pi, HeldScalars.One).remainder(twoPi).sub(pi);
        var mask = refMag.to(ScalarType.Float64).gt(refMag.max().to(ScalarType.Float64).mul(relative));
        double worst = diff.abs().masked_select(mask).max().item<double>();
        Assert.IsLessThan(1e-3, worst, $"{name}: phase differs by up to {worst:G3} rad where |X| > 1e-3 max");
    }

    [TestMethod]
    [DataRow(FramePadding.Center)]
    [DataRow(FramePadding.NoCenter)]
    [DataRow(FramePadding.Valid)]
    [DataRow(FramePadding.PadBegin)]
    [DataRow(FramePadding.PadEnd)]
    [DataRow(FramePadding.PadBeginAndEnd)]
    [DataRow(FramePadding.Same)]
    public void Forward_KeepsBatchAndChannelDimensions(FramePadding padding)
    {
        using var scope = NewDisposeScope();
        using var stft = AudioLayers.Stft(n_fft: 256, win_length: 200, hop_length: 80, padding: padding, output: SpectrumType.Power);
        var gen = new Generator(seed: 7);
        var batch = rand(new long[] { 2, 3, 1001 }, generator: gen).mul(HeldScalars.Two).sub(HeldScalars.One);

        var y = stft.call(batch);
        long frames = stft.frame_count(1001);
        Compare.Shape(y, [2, 3, 129, frames], padding.ToString());
        for (int b = 0; b < 2; b++)
            for (int ch = 0; ch < 3; ch++)
            {
                var single = stft.call(batch[b, ch]);
                Compare.Shape(single, [129, frames], "single");
                Compare.RelativeToMax(Compare.ToArray(y[b, ch]), Compare.ToArray(single), Tolerances.SameComputationRel, $"{padding} [{b},{ch}] vs alone");
            }

        var twoD = stft.call(batch[0]); // (channels as batch, time)
        Compare.Shape(twoD, [3, 129, frames], "2-D input");
    }

    [TestMethod]
    public void Forward_FollowsInputDtype_Float64()
    {
        var c = ReferenceFixtures.Case("stft_chirp16k_512_400_160_hann_reflect_power");
        var (signal, _) = ReferenceFixtures.Signal(c.String("signal")!);
        var expected = ReferenceFixtures.Data(c.String("expected")!);
        using var scope = NewDisposeScope();
        using var stft = Build(c); // window buffer is float32; a float64 input gets a float64 window
        var y = stft.call(tensor(signal.Data).to(ScalarType.Float64));
        Assert.AreEqual(ScalarType.Float64, y.dtype);
        Compare.RelativeToMax(y, expected, Tolerances.Float64Rel, "float64");
    }

    [TestMethod]
    public void Forward_IsDeterministic()
    {
        using var scope = NewDisposeScope();
        using var stft = AudioLayers.Stft(n_fft: 512, win_length: 400, hop_length: 160, output: SpectrumType.Power);
        var x = randn(4, 16000, generator: new Generator(seed: 3));
        var a = Compare.ToArray(stft.call(x));
        var b = Compare.ToArray(stft.call(x));
        CollectionAssert.AreEqual(a, b, "two runs on the same input differ");
    }

    [TestMethod]
    public void Forward_MovesWithModuleTo_Float64()
    {
        using var scope = NewDisposeScope();
        using var stft = AudioLayers.Stft(n_fft: 64, output: SpectrumType.Power);
        stft.to(ScalarType.Float64);
        Assert.AreEqual(ScalarType.Float64, stft.Window.dtype);
        Assert.AreEqual(ScalarType.Float64, stft.call(randn(1000, dtype: ScalarType.Float64)).dtype);
    }

    [TestMethod]
    public void Window_ShortWindowSitsInTheMiddleForTorchFramingAndAtTheStartForKapre()
    {
        using var scope = NewDisposeScope();
        var centred = Compare.ToArray(Functional.window(WindowType.Rectangular, 4, n_fft: 8, padding: FramePadding.Center));
        var atStart = Compare.ToArray(Functional.window(WindowType.Rectangular, 4, n_fft: 8, padding: FramePadding.Valid));
        CollectionAssert.AreEqual(new float[] { 0, 0, 1, 1, 1, 1, 0, 0 }, centred);
        CollectionAssert.AreEqual(new float[] { 1, 1, 1, 1, 0, 0, 0, 0 }, atStart);
    }

    [TestMethod]
    public void Window_IsPeriodicHann()
    {
        using var scope = NewDisposeScope();
        var w = Compare.ToArray(Functional.window(WindowType.Hann, 8));
        // torch computes the window in float32: a few ulps (float32 eps is 1.2e-7) from the float64 formula.
        for (int n = 0; n < 8; n++)
            Assert.AreEqual(0.5 - 0.5 * Math.Cos(2 * Math.PI * n / 8), w[n], 3e-7, $"w[{n}]");
    }

    [TestMethod]
    [DataRow(1000L, 512L, 128L, 400L, FramePadding.Center, 8L)]      // 1 + 1000 / 128
    [DataRow(1000L, 512L, 128L, 400L, FramePadding.NoCenter, 4L)]    // 1 + (1000 - 512) / 128
    [DataRow(1000L, 512L, 128L, 400L, FramePadding.Valid, 5L)]       // 1 + (1000 - 400) / 128
    [DataRow(1000L, 512L, 128L, 400L, FramePadding.PadBegin, 8L)]    // 1 + (1000 + 384 - 400) / 128
    [DataRow(1000L, 512L, 128L, 400L, FramePadding.PadEnd, 8L)]      // ceil(1000 / 128)
    [DataRow(1000L, 512L, 128L, 400L, FramePadding.PadBeginAndEnd, 11L)] // ceil(1384 / 128)
    [DataRow(1000L, 512L, 128L, 400L, FramePadding.Same, 8L)]        // ceil(1000 / 128)
    [DataRow(300L, 512L, 128L, 512L, FramePadding.Valid, 0L)]        // shorter than one window
    [DataRow(1000L, 511L, 128L, 511L, FramePadding.Center, 8L)]      // odd n_fft: 255 each side, 1 + (1000 + 510 - 511) / 128
    [DataRow(1024L, 511L, 128L, 511L, FramePadding.Center, 8L)]      // 1 + 1023 / 128 (an even n_fft would give 9)
    public void FrameCount_FollowsEachConvention(long length, long nFft, long hop, long win, FramePadding padding, long expected)
        => Assert.AreEqual(expected, Functional.frame_count(length, nFft, hop, win, padding));

    [TestMethod]
    [DataRow(1024L)]
    [DataRow(1000L)]
    public void Forward_OddFftLength_GivesTorchsFrameCount(long length)
    {
        using var scope = NewDisposeScope();
        using var stft = AudioLayers.Stft(n_fft: 511, hop_length: 128, output: SpectrumType.Power);
        var y = stft.call(randn(length));
        Compare.Shape(y, [256, stft.frame_count(length)], "odd n_fft");
    }

    [TestMethod]
    public void Forward_Throws_NamingInput_WhenSignalIsShorterThanOneFrame()
    {
        using var stft = AudioLayers.Stft(n_fft: 512, padding: FramePadding.Valid);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => stft.call(zeros(100)));
        Assert.AreEqual("input", ex.ParamName);
        StringAssert.Contains(ex.Message, "100 samples");
    }

    [TestMethod]
    public void Forward_Throws_NamingInput_WhenReflectPaddingIsLongerThanSignal()
    {
        using var stft = AudioLayers.Stft(n_fft: 512);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => stft.call(zeros(200)));
        Assert.AreEqual("input", ex.ParamName);
        using var constant = AudioLayers.Stft(n_fft: 512, pad_mode: PadMode.Constant, output: SpectrumType.Power);
        Compare.Shape(constant.call(zeros(200)), [257, 1 + 200 / 128], "constant padding of a short signal");
    }

    [TestMethod]
    public void Forward_Throws_WhenInputIsNotFloatingPoint()
    {
        using var stft = AudioLayers.Stft(n_fft: 64);
        var ex = Assert.ThrowsExactly<ArgumentException>(() => stft.call(zeros(1000, dtype: ScalarType.Int16)));
        Assert.AreEqual("input", ex.ParamName);
    }
}
