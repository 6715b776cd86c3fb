using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Transforms;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

/// <summary>
/// The fused front ends' options are made of their parts (STFT, mel, decibels, DCT): the flat properties and the parts
/// are one setting, the parts' defaults are the fused options' defaults, shared settings must agree, and the parts
/// give the same numbers as the flat form.
/// </summary>
[TestClass]
public sealed class LogMelOptionsTests
{
    [TestMethod]
    public void FlatProperties_ReadAndWriteTheParts()
    {
        var o = new MfccOptions { FftLength = 512, WindowLength = 400, HopLength = 160, MelBinCount = 40, TopDb = 60, CoefficientCount = 13, DctNorm = DctNorm.None, BatchSize = 7 };
        Assert.AreEqual(512, o.Stft.FftLength);
        Assert.AreEqual(400, o.Stft.WindowLength);
        Assert.AreEqual(160, o.Stft.HopLength);
        Assert.AreEqual(40, o.Mel.MelBinCount);
        Assert.AreEqual(60.0, o.Decibel.TopDb);
        Assert.AreEqual(13, o.Dct.CoefficientCount);
        Assert.AreEqual(DctNorm.None, o.Dct.Norm);
        Assert.AreEqual(7, o.Stft.BatchSize);
        Assert.AreEqual(7, o.Mel.BatchSize);
        Assert.AreEqual(7, o.Decibel.BatchSize);

        o.Mel.MinFrequency = 20;
        o.Stft.Window = WindowType.Hamming;
        Assert.AreEqual(20.0, o.MinFrequency);
        Assert.AreEqual(WindowType.Hamming, o.Window);

        var nested = new MelSpectrogramOptions { Stft = new GpuStftOptions { FftLength = 1024 }, Mel = { MelBinCount = 64 } };
        Assert.AreEqual(1024, nested.FftLength);
        Assert.AreEqual(64, nested.MelBinCount);
        Assert.Throws<ArgumentNullException>(() => nested.Stft = null!);
    }

    [TestMethod]
    public void Defaults_AreThoseOfTheParts()
    {
        var o = new MelSpectrogramOptions();
        var (stft, mel, db) = (new GpuStftOptions(), new GpuMelOptions(), new GpuDecibelOptions());
        Assert.AreEqual(stft.FftLength, o.FftLength);
        Assert.AreEqual(stft.Window, o.Window);
        Assert.AreEqual(stft.PadMode, o.PadMode);
        Assert.AreEqual(stft.Power, o.Power);
        Assert.AreEqual(mel.MelBinCount, o.MelBinCount);
        Assert.AreEqual(mel.MelScale, o.MelScale);
        Assert.AreEqual(db.TopDb, o.TopDb);
        Assert.AreEqual(db.MinAmplitude, o.MinAmplitude);
        Assert.AreEqual(stft.BatchSize, o.BatchSize);
        Assert.IsTrue(o.ToDecibel);
        Assert.AreEqual(Mfcc.DefaultCoefficientCount, new MfccOptions().CoefficientCount);
    }

    [TestMethod]
    public void SharedSettingsSetOnALaterPart_MustAgreeWithTheStftPart()
    {
        var ml = new MLContext(1);
        var fft = new MelSpectrogramOptions();
        fft.Stft.FftLength = 1024;
        fft.Mel.FftLength = 512;
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", fft));
        StringAssert.Contains(e.Message, "Mel.FftLength (512) disagrees with Stft.FftLength (1024)");

        var power = new MfccOptions();
        power.Decibel.Power = 1;
        e = Assert.Throws<ArgumentException>(() => ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", power));
        StringAssert.Contains(e.Message, "Decibel.Power (1) disagrees with Stft.Power (2)");

        var batch = new MelSpectrogramOptions();
        batch.Mel.BatchSize = 3;
        e = Assert.Throws<ArgumentException>(() => ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", batch));
        StringAssert.Contains(e.Message, "Mel.BatchSize");

        // Left at null, the later parts follow the STFT part; the flat setter clears a part's own copy.
        var follows = new MelSpectrogramOptions();
        follows.Mel.FftLength = 512;
        follows.FftLength = 1024;
        Assert.IsNull(follows.Mel.FftLength);
        ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", follows);
    }

    [TestMethod]
    public void PartsAndFlatForm_GiveTheSameNumbers_AndTheFittedOptionsReportThem()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(3, 6000), [6000], 16000);
        var flat = new MfccOptions { FftLength = 512, WindowLength = 400, HopLength = 160, MelBinCount = 40, MelScale = MelScale.Slaney, TopDb = 70, CoefficientCount = 13 };
        var parts = new MfccOptions
        {
            Stft = new GpuStftOptions { FftLength = 512, WindowLength = 400, HopLength = 160 },
            Mel = new GpuMelOptions { MelBinCount = 40, MelScale = MelScale.Slaney },
            Decibel = new GpuDecibelOptions { TopDb = 70 },
            Dct = new DctOptions { CoefficientCount = 13 },
        };
        var a = ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", flat).Fit(data);
        var b = ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", parts).Fit(data);
        var ra = AudioData.Column(a.Transform(data), "Mfcc");
        var rb = AudioData.Column(b.Transform(data), "Mfcc");
        for (int i = 0; i < ra.Length; i++) CollectionAssert.AreEqual(ra[i], rb[i], $"row {i}");

        var fitted = b.Options;
        Assert.AreEqual(16000, fitted.SampleRate, "the sample rate resolved from the column");
        Assert.AreEqual(512, fitted.FftLength);
        Assert.AreEqual(400, fitted.WindowLength);
        Assert.AreEqual(40, fitted.MelBinCount);
        Assert.AreEqual(70.0, fitted.TopDb);
        Assert.AreEqual(13, fitted.CoefficientCount);
        fitted.Mel.MelBinCount = 10;
        Assert.AreEqual(40, b.Options.MelBinCount, "Options is a copy");
    }

    [TestMethod]
    public void EstimatorKeepsACopy_SoLaterChangesToTheOptionsDoNotReachIt()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(2, 4000), [4000], 16000);
        var options = new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20 };
        var estimator = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", options);
        options.Mel.MelBinCount = 30;
        options.Stft.FftLength = 512;
        var model = estimator.Fit(data);
        Assert.AreEqual(20, model.Options.MelBinCount);
        Assert.AreEqual(256, model.Options.FftLength);
    }
}
