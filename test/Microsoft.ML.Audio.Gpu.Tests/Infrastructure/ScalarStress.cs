using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Training;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// The workload of the Scalar-lifetime stress test, run in a second process (<c>dotnet exec
/// Microsoft.ML.Audio.Gpu.Tests.dll scalar-stress calm|stress OUTPUT</c>): training <see cref="AudioCnn"/> several
/// hundred steps on spectrograms and on raw audio with a trainable front end, every layer's forward and backward,
/// Griffin-Lim, and every GPU transform. Each result goes to OUTPUT as a name and the exact bits of a number, so two
/// runs compare exactly.
/// </summary>
/// <remarks>
/// In <c>stress</c> mode a thread forces a full garbage collection and runs the finalizers in a loop for the whole
/// run. With <c>DOTNET_TieredCompilation=0</c> (fully optimised code from the first call, so locals die as early as
/// they can) any Scalar that libtorch reads after its last managed use is freed under it within a few hundred calls:
/// the process then dies ("Unknown scalar type") or computes different numbers.
/// </remarks>
public static class ScalarStress
{
    public const string Command = "scalar-stress";

    /// <summary>Training steps per network: 3 × 16 clips in batches of 4 (12 steps an epoch) for 25 epochs, 300 in all.</summary>
    private const int ClipsPerClass = 16, BatchSize = 4, Epochs = 25;

    public static int Run(string mode, string outputPath)
    {
        if (mode is not ("calm" or "stress")) throw new ArgumentException($"mode must be calm or stress, got: {mode}", nameof(mode));
        using var output = new StreamWriter(outputPath);
        var watch = Stopwatch.StartNew();
        var collections = new ForcedCollections(run: mode == "stress");
        try
        {
            Section("training on spectrograms", () => Training(output, frontEnd: false));
            Section("training with the front end", () => Training(output, frontEnd: true));
            Section("layers", () => Layers(output));
            Section("transforms", () => Transforms(output));
        }
        finally
        {
            collections.Dispose();
        }
        Console.WriteLine($"{mode}: {watch.Elapsed.TotalSeconds:F1} s, {collections.Count} forced collections");
        return 0;
    }

    private static void Section(string name, Action run)
    {
        var watch = Stopwatch.StartNew();
        run();
        Console.WriteLine($"  {name}: {watch.Elapsed.TotalSeconds:F1} s");
    }

    private static void Write(TextWriter output, string name, double value)
        => output.WriteLine($"{name} {BitConverter.DoubleToInt64Bits(value):x16} {value.ToString("R", CultureInfo.InvariantCulture)}");

    private static IDataView Load(MLContext ml, AudioClassificationTrainerTests.Clip[] clips)
    {
        var definition = SchemaDefinition.Create(typeof(AudioClassificationTrainerTests.Clip));
        definition[nameof(AudioClassificationTrainerTests.Clip.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, 8000, NumberDataViewType.Int32);
        return ml.Data.LoadFromEnumerable(clips, definition);
    }

    /// <summary>The trainer end to end (BatchNorm, dropout, SpecAugment, AdamW, the cosine schedule), then prediction.</summary>
    private static void Training(TextWriter output, bool frontEnd)
    {
        var ml = new MLContext(seed: 3);
        var frontEndOptions = new MelSpectrogramOptions { FftLength = 256, HopLength = 64, MelBinCount = 32 };
        var options = new AudioClassificationOptions { Epochs = Epochs, BatchSize = BatchSize, Dropout = 0.1 };
        IEstimator<ITransformer> pipeline = ml.Transforms.Conversion.MapValueToKey("Label", nameof(AudioClassificationTrainerTests.Clip.Word));
        if (frontEnd)
        {
            options.FeatureColumnName = nameof(AudioClassificationTrainerTests.Clip.Audio);
            options.FrontEnd = frontEndOptions;
            options.TrainFrontEnd = true;
        }
        else
        {
            pipeline = pipeline.Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", nameof(AudioClassificationTrainerTests.Clip.Audio), frontEndOptions));
        }
        var model = pipeline.Append(ml.MulticlassClassification.Trainers.AudioClassification(options))
            .Fit(Load(ml, AudioClassificationTrainerTests.Clips(ClipsPerClass, 1)));
        var classifier = model.LastTransformer;
        string prefix = frontEnd ? "train.frontend" : "train.spectrogram";
        foreach (var epoch in classifier.TrainingHistory)
        {
            Write(output, $"{prefix}.epoch{epoch.Epoch}.loss", epoch.Loss);
            Write(output, $"{prefix}.epoch{epoch.Epoch}.accuracy", epoch.Accuracy);
        }
        var scores = AudioData.Column(model.Transform(Load(ml, AudioClassificationTrainerTests.Clips(2, 9))), "Score");
        for (int i = 0; i < scores.Length; i++)
            for (int k = 0; k < scores[i].Length; k++) Write(output, $"{prefix}.score{i}.{k}", scores[i][k]);
    }

    /// <summary>Each layer forward (and backward where it has a gradient), ten times over, on seeded input.</summary>
    private static void Layers(TextWriter output)
    {
        var cases = new (string name, Func<nn.Module<Tensor, Tensor>> make, Func<Tensor> input, bool train)[]
        {
            ("stft", () => AudioLayers.Stft(256, hop_length: 64, output: SpectrumType.Power), () => Signal(2, 4000), false),
            ("stft.magnitude", () => AudioLayers.Stft(256, hop_length: 64, output: SpectrumType.Magnitude), () => Signal(2, 4000), false),
            ("magnitude", () => AudioLayers.Magnitude(), () => Complex(), false),
            ("phase", () => AudioLayers.Phase(), () => Complex(), false),
            ("mel", () => AudioLayers.MelFilterbank(16000, 256, 32, trainable: true), () => Spectrum(), false),
            ("logfrequency", () => AudioLayers.LogFrequencyFilterbank(16000, 256, 24, trainable: true), () => Spectrum(), false),
            ("decibel", () => AudioLayers.AmplitudeToDecibel(top_db: 80), () => Spectrum(), false),
            ("melspectrogram", () => AudioLayers.MelSpectrogram(16000, 256, hop_length: 64, n_mels: 32, to_db: true, top_db: 80), () => Signal(2, 4000), false),
            ("mfcc", () => AudioLayers.Mfcc(13, 32), () => Spectrum(32), false),
            ("delta", () => AudioLayers.Delta(5), () => Spectrum(), false),
            ("frame", () => AudioLayers.Frame(400, 160, pad_end: true), () => Signal(2, 4000), false),
            ("energy", () => AudioLayers.Energy(16000, 0.025, 400, 160), () => Signal(2, 4000), false),
            ("mulaw.encoding", () => AudioLayers.MuLawEncoding(), () => Signal(2, 4000), false),
            ("specaugment", () => AudioLayers.SpecAugment(2, 6, 2, 8), () => Spectrum().unsqueeze(1), true),
            ("noise", () => AudioLayers.AdditiveNoise(0.1, random_gain: true), () => Signal(2, 4000), true),
            ("normalization", () => AudioLayers.Normalization2D(NormalizationAxis.Frequency), () => Spectrum().unsqueeze(1), false),
            ("channelswap", () => AudioLayers.ChannelSwap(), () => Spectrum().unsqueeze(1), false),
            ("frequencymap", () => AudioLayers.ConcatenateFrequencyMap(), () => Spectrum().unsqueeze(1), false),
            ("frequencyconv", () => AudioLayers.FrequencyAwareConv2d(1, 4, 3, padding: 1), () => Spectrum().unsqueeze(1), false),
            ("convstft", () => AudioLayers.ConvStft(256, hop_length: 64), () => Signal(2, 4000), false),
            ("istft", () => AudioLayers.InverseStft(256, hop_length: 64), () => Complex(), false),
            ("griffinlim", () => AudioLayers.GriffinLim(256, hop_length: 64, n_iter: 8, rand_init: true), () => Spectrum(), false),
            ("resample", () => AudioLayers.Resample(16000, 8000), () => Signal(2, 4000), false),
            ("batchnorm", () => AudioLayers.BatchNorm(1), () => Spectrum().unsqueeze(1), true),
            ("speechembedding", () => AudioLayers.SpeechEmbedding(EmbeddingPooling.MeanMax), () => Signal(2, 13000), false),
        };
        foreach (var (name, make, input, train) in cases)
        {
            // Named as it starts: a crash (the process dies, nothing else is printed) then says which layer it was in.
            Console.WriteLine($"    layer {name}");
            using var layer = make();
            if (train) layer.train(); else layer.eval();
            for (int repeat = 0; repeat < 10; repeat++)
            {
                using var scope = NewDisposeScope();
                random.manual_seed(repeat);
                var x = input();
                bool differentiable = x.is_floating_point() || x.is_complex();
                if (differentiable) x.requires_grad_();
                var y = layer.call(x);
                Write(output, $"layer.{name}.{repeat}.output", Sum(y));
                if (differentiable && y.requires_grad)
                {
                    (y.is_complex() ? y.abs() : y).sum().backward();
                    Write(output, $"layer.{name}.{repeat}.gradient", Sum(x.grad!));
                }
            }
        }
        // The generator held for the draw: an argument of a native call, like a Scalar (issue 28).
        using (var decode = AudioLayers.MuLawDecoding())
        using (var generator = new Generator(seed: 4))
        using (var codes = randint(0, 256, [2, 1000], dtype: ScalarType.Int64, generator: generator))
        using (var y = decode.call(codes))
            Write(output, "layer.mulaw.decoding", Sum(y));
    }

    private static double Sum(Tensor t)
    {
        using var _ = no_grad();
        using var real = t.is_complex() ? view_as_real(t) : t.alias();
        using var wide = real.to(ScalarType.Float64);
        using var sum = wide.sum();
        return sum.item<double>();
    }

    private static Tensor Signal(long batch, long samples) => rand(batch, samples);
    private static Tensor Spectrum(long bins = 129) => rand([2, bins, 40]);
    private static Tensor Complex() => view_as_complex(randn([2, 129, 40, 2]));

    /// <summary>Every GPU transform on 20 rows of noise (batches of 8 and a short last batch).</summary>
    private static void Transforms(TextWriter output)
    {
        var ml = new MLContext(seed: 1);
        var audio = AudioData.Load(ml, AudioData.NoiseRows(20, 4000), [4000], 16000);
        var pipelines = new (string name, IEstimator<ITransformer> estimator)[]
        {
            ("stft.mel.decibel", ml.Transforms.Audio.GpuStft("Out", "Audio", new GpuStftOptions { FftLength = 256, BatchSize = 8 })
                .Append(ml.Transforms.Audio.GpuMel("Out", "Out", new GpuMelOptions { MelBinCount = 32, BatchSize = 8 }))
                .Append(ml.Transforms.Audio.GpuDecibel("Out", "Out", new GpuDecibelOptions { BatchSize = 8 }))),
            ("melspectrogram", ml.Transforms.Audio.MelSpectrogramGpu("Out", "Audio", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 32, BatchSize = 8 })),
            ("mfcc", ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { FftLength = 256, MelBinCount = 32, CoefficientCount = 13, BatchSize = 8 })),
            ("resample", ml.Transforms.Audio.GpuResample("Out", "Audio", new GpuResampleOptions { SampleRate = 8000, BatchSize = 8 })),
        };
        foreach (var (name, estimator) in pipelines)
        {
            var rows = AudioData.Column(estimator.Fit(audio).Transform(audio), "Out");
            for (int i = 0; i < rows.Length; i++) Write(output, $"transform.{name}.{i}", rows[i].Sum(v => (double)v));
        }
    }
}
