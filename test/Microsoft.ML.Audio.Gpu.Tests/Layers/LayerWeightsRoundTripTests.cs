using Microsoft.ML.Audio.Gpu.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

/// <summary>
/// Every layer's state (parameters and buffers: windows, filterbanks, DFT kernels, batch statistics, weights) goes
/// through the library's one tensor serializer (<c>ModelWeights</c>, what the saved models use) and comes back into a
/// freshly built layer exactly; the state is changed before saving, so a layer that kept its own initial state would fail.
/// </summary>
[TestClass]
public sealed class LayerWeightsRoundTripTests
{
    private static readonly (string name, Func<nn.Module> make)[] Layers =
    [
        ("Stft", () => AudioLayers.Stft(256, hop_length: 64)),
        ("StftMagnitudePhase", () => AudioLayers.StftMagnitudePhase(256)),
        ("ConvStft (trainable)", () => AudioLayers.ConvStft(128, trainable: true)),
        ("ConvStft (fixed)", () => AudioLayers.ConvStft(128, trainable: false)),
        ("InverseStft", () => AudioLayers.InverseStft(256, hop_length: 64)),
        ("GriffinLim", () => AudioLayers.GriffinLim(256, hop_length: 64, n_iter: 2)),
        ("MelFilterbank", () => AudioLayers.MelFilterbank(16000, 256, 20)),
        ("MelFilterbank (trainable)", () => AudioLayers.MelFilterbank(16000, 256, 20, trainable: true)),
        ("LogFrequencyFilterbank", () => AudioLayers.LogFrequencyFilterbank(16000, 512)),
        ("ApplyFilterbank", () => AudioLayers.ApplyFilterbank(ones(129, 10))),
        ("MelSpectrogram", () => AudioLayers.MelSpectrogram(16000, 256, n_mels: 20, to_db: true, top_db: 80)),
        ("Mfcc", () => AudioLayers.Mfcc(13, 20)),
        ("AmplitudeToDecibel", () => AudioLayers.AmplitudeToDecibel()),
        ("Magnitude", () => AudioLayers.Magnitude()),
        ("Phase", () => AudioLayers.Phase()),
        ("Delta", () => AudioLayers.Delta()),
        ("Frame", () => AudioLayers.Frame(400, 160)),
        ("Energy", () => AudioLayers.Energy()),
        ("ConcatenateFrequencyMap", () => AudioLayers.ConcatenateFrequencyMap()),
        ("ChannelSwap", () => AudioLayers.ChannelSwap()),
        ("MuLawEncoding", () => AudioLayers.MuLawEncoding()),
        ("MuLawDecoding", () => AudioLayers.MuLawDecoding()),
        ("Normalization2D", () => AudioLayers.Normalization2D()),
        ("BatchNorm", () => AudioLayers.BatchNorm(4)),
        ("FrequencyAwareConv2d", () => AudioLayers.FrequencyAwareConv2d(2, 4, 3, padding: 1)),
        ("Resample", () => AudioLayers.Resample(16000, 8000)),
        ("SpecAugment", () => AudioLayers.SpecAugment()),
        ("AdditiveNoise", () => AudioLayers.AdditiveNoise()),
        ("BackgroundNoise", () => AudioLayers.BackgroundNoise()),
        ("Reverberation", () => AudioLayers.Reverberation()),
        ("SpeedPerturbation", () => AudioLayers.SpeedPerturbation()),
        ("Mixup", () => AudioLayers.Mixup()),
        ("SpeechEmbedding", () => AudioLayers.SpeechEmbedding()),
    ];

    public static IEnumerable<object[]> Names => Layers.Select(l => new object[] { l.name });

    [TestMethod]
    [DynamicData(nameof(Names))]
    public void State_ComesBackIntoAFreshLayer_Exactly(string name)
    {
        var make = Layers.Single(l => l.name == name).make;
        using var original = make();
        using (no_grad())
        {
            // Changed from the initial state, so that the fresh layer holds different values until it loads.
            var rng = new Random(name.Length);
            foreach (var (_, t) in original.state_dict())
                if (t.is_floating_point())
                {
                    using var shift = ((double)rng.Next(1, 100) / 64).ToScalar();
                    t.add_(shift, HeldScalars.One);
                }
        }
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) ModelWeights.Save(writer, original);

        using var fresh = make();
        var before = original.state_dict();
        var after = fresh.state_dict();
        CollectionAssert.AreEquivalent(before.Keys.ToArray(), after.Keys.ToArray(), "the same state names");
        bool anyFloat = before.Values.Any(t => t.is_floating_point());
        if (anyFloat) Assert.IsFalse(before.All(kv => Same(kv.Value, after[kv.Key])), "the fresh layer starts from other values");

        stream.Position = 0;
        using (var reader = new BinaryReader(stream)) ModelWeights.Load(reader, fresh);
        foreach (var (key, t) in original.state_dict())
        {
            var loaded = fresh.state_dict()[key];
            Assert.AreEqual(t.dtype, loaded.dtype, $"{name}: {key} type");
            CollectionAssert.AreEqual(t.shape, loaded.shape, $"{name}: {key} shape");
            Assert.IsTrue(Same(t, loaded), $"{name}: {key} values");
        }
    }

    private static bool Same(Tensor a, Tensor b)
    {
        using var equal = a.eq(b).all();
        return equal.item<bool>();
    }
}
