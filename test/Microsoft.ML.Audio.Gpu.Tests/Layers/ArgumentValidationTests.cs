using Microsoft.ML.Audio.Gpu.Layers;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

/// <summary>Invalid arguments raise an <see cref="ArgumentException"/> whose ParamName is the argument.</summary>
[TestClass]
public sealed class ArgumentValidationTests
{
    private static void AssertNames(string expectedParam, Action create)
    {
        var ex = Assert.Throws<ArgumentException>(create);
        Assert.AreEqual(expectedParam, ex.ParamName, ex.Message);
        StringAssert.Contains(ex.Message, expectedParam);
    }

    [TestMethod]
    public void Stft_RejectsHopZero() => AssertNames("hop_length", () => AudioLayers.Stft(512, hop_length: 0));

    [TestMethod]
    public void Stft_RejectsFftShorterThanWindow() => AssertNames("n_fft", () => AudioLayers.Stft(256, win_length: 400));

    [TestMethod]
    public void Stft_RejectsNonPositiveFft() => AssertNames("n_fft", () => AudioLayers.Stft(0));

    [TestMethod]
    public void Stft_RejectsUndefinedWindow() => AssertNames("window", () => AudioLayers.Stft(512, window: (WindowType)42));

    [TestMethod]
    public void Mel_RejectsMaxFrequencyAboveNyquist() => AssertNames("f_max", () => AudioLayers.MelFilterbank(16000, f_max: 8001));

    [TestMethod]
    public void Mel_RejectsMinFrequencyAboveMax() => AssertNames("f_min", () => AudioLayers.MelFilterbank(16000, f_min: 5000, f_max: 4000));

    [TestMethod]
    [DataRow(double.NaN)]
    [DataRow(double.PositiveInfinity)]
    public void Mel_RejectsNonFiniteMaxFrequency(double fMax) => AssertNames("f_max", () => AudioLayers.MelFilterbank(16000, f_max: fMax));

    [TestMethod]
    public void Mel_RejectsNaNMinFrequency() => AssertNames("f_min", () => AudioLayers.MelFilterbank(16000, f_min: double.NaN));

    [TestMethod]
    [DataRow(double.NaN)]
    [DataRow(0.0)]
    [DataRow(-16000.0)]
    public void Mel_RejectsBadSampleRate(double rate) => AssertNames("sample_rate", () => AudioLayers.MelFilterbank(rate));

    [TestMethod]
    public void Mel_RejectsZeroMels() => AssertNames("n_mels", () => AudioLayers.MelFilterbank(16000, n_mels: 0));

    [TestMethod]
    public void Decibel_RejectsNaNAmin() => AssertNames("amin", () => AudioLayers.AmplitudeToDecibel(amin: double.NaN));

    [TestMethod]
    public void Decibel_RejectsNaNTopDb() => AssertNames("top_db", () => AudioLayers.AmplitudeToDecibel(top_db: double.NaN));

    [TestMethod]
    public void Decibel_RejectsNegativeReference() => AssertNames("reference", () => AudioLayers.AmplitudeToDecibel(reference: -1));

    [TestMethod]
    public void Decibel_RejectsComplexInputType() => AssertNames("input_type", () => AudioLayers.AmplitudeToDecibel(SpectrumType.Complex));

    [TestMethod]
    public void MelSpectrogram_RejectsPowerOtherThanOneOrTwo() => AssertNames("power", () => AudioLayers.MelSpectrogram(16000, power: 3));

    [TestMethod]
    public void Magnitude_RejectsRealInput() => AssertNames("t", () => AudioLayers.Magnitude().call(zeros(3)));

    [TestMethod]
    public void ApplyFilterbank_RejectsMismatchedBins()
        => AssertNames("filterbank", () => Functional.apply_filterbank(zeros(2, 257, 10), zeros(129, 40)));
}
