using System.Diagnostics;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Training;

/// <summary>
/// <see cref="BcResNet"/>: logits of (batch, classes) for the paper's 40 × 101 log-mels, other mel counts, short inputs,
/// several channels and raw audio; the weight counts of the authors' published code and of the paper's table;
/// SubSpectralNorm normalising each sub-band on its own; evaluation deterministic and differing from training only by
/// BatchNorm and dropout; a few dozen AdamW steps learning synthetic "words"; bad arguments named.
/// </summary>
[TestClass]
public sealed class BcResNetTests
{
    private static BcResNet Network(BcResNetSize size = BcResNetSize.Tau1, int classes = 12, int channels = 1, double dropout = BcResNet.PaperDropout,
        MelSpectrogram? frontEnd = null, SpecAugment? augment = null)
        => new("bcresnet", classes, channels, size, dropout, frontEnd, augment);

    [TestMethod]
    [DataRow(new long[] { 4, 40, 101 }, 1, BcResNetSize.Tau1, DisplayName = "the paper's input: 40 mels × 101 frames")]
    [DataRow(new long[] { 2, 1, 40, 101 }, 1, BcResNetSize.Tau1, DisplayName = "with a channel axis")]
    [DataRow(new long[] { 3, 2, 64, 50 }, 2, BcResNetSize.Tau1_5, DisplayName = "two channels, 64 mels (padded to 80)")]
    [DataRow(new long[] { 2, 128, 20 }, 1, BcResNetSize.Tau3, DisplayName = "128 mels (padded to 160)")]
    [DataRow(new long[] { 2, 13, 5 }, 1, BcResNetSize.Tau1, DisplayName = "13 bins (padded to 40)")]
    [DataRow(new long[] { 2, 40, 3 }, 1, BcResNetSize.Tau2, DisplayName = "3 frames")]
    [DataRow(new long[] { 2, 40, 1 }, 1, BcResNetSize.Tau8, DisplayName = "1 frame")]
    public void Output_IsBatchByClasses_InTrainingAndEvaluation_AndEveryWeightGetsAGradient(long[] shape, int channels, BcResNetSize size)
    {
        using var scope = NewDisposeScope();
        using var net = Network(size, classes: 7, channels: channels);
        var x = randn(shape, generator: new Generator(seed: 1));
        var logits = net.call(x);
        Compare.Shape(logits, [shape[0], 7], "training");
        Assert.IsTrue(logits.isfinite().all().item<bool>(), "finite logits");
        logits.sum().backward();
        foreach (var (name, p) in net.named_parameters())
            Assert.IsNotNull(p.grad, $"{name} has no gradient");
        net.eval();
        using (no_grad()) Compare.Shape(net.call(x), [shape[0], 7], "evaluation");
        using (no_grad()) Compare.Shape(net.call(x.narrow(0, 0, 1)), [1, 7], "evaluation, batch of one");
    }

    [TestMethod]
    public void FrontEnd_TakesAudio()
    {
        using var scope = NewDisposeScope();
        using var net = Network(frontEnd: AudioLayers.MelSpectrogram(16000, n_fft: 512, win_length: 480, hop_length: 160, n_mels: 40, to_db: true), classes: 3,
            augment: AudioLayers.SpecAugment(2, 5, 2, 10));
        var audio = randn(new long[] { 2, 16000 }, generator: new Generator(seed: 2));
        Compare.Shape(net.call(audio), [2, 3], "(batch, samples) → (batch, classes)");
        net.eval();
        using (no_grad()) Compare.Shape(net.call(audio), [2, 3], "evaluation");
    }

    [TestMethod]
    public void MelAxis_IsZeroPaddedAtTheTop_ToAMultipleOf40()
    {
        Assert.AreEqual(40L, BcResNet.PaddedMels(1));
        Assert.AreEqual(40L, BcResNet.PaddedMels(13));
        Assert.AreEqual(40L, BcResNet.PaddedMels(40));
        Assert.AreEqual(80L, BcResNet.PaddedMels(64));
        Assert.AreEqual(160L, BcResNet.PaddedMels(128));

        // With fresh running statistics the input BatchNorm maps 0 to 0, so 64 mels give what 64 mels and 16 zero rows give.
        using var scope = NewDisposeScope();
        using var net = Network(BcResNetSize.Tau1_5);
        net.eval();
        var x = randn(new long[] { 2, 64, 30 }, generator: new Generator(seed: 3));
        using var _ = no_grad();
        var padded = cat([x, zeros(2, 16, 30)], 1);
        var diff = net.call(x).sub(net.call(padded)).abs().max().item<float>();
        Assert.AreEqual(0f, diff, 1e-6f, "zero rows above the top mel");
    }

    /// <summary>The authors' published code (Qualcomm-AI-research/bcresnet, BCResNets(int(8τ))): its layers' weights,
    /// counted from its layer list; ours adds the input BatchNorm (2 a channel).</summary>
    private static long PublishedCodeWeights(double tau, int classes)
    {
        int b = (int)(8 * tau);
        int[] c = [2 * b, b, (int)(1.5 * b), 2 * b, (int)(2.5 * b), 4 * b];
        int[] n = [2, 2, 4, 4];
        long p = 25L * c[0] + 2 * c[0];                 // 5×5 conv from 1 channel, BatchNorm
        for (int s = 0; s < 4; s++)
            for (int i = 0; i < n[s]; i++)
            {
                long inCh = i == 0 ? c[s] : c[s + 1], o = c[s + 1];
                if (inCh != o) p += inCh * o + 2 * o;   // transition: 1×1 conv, BatchNorm
                p += 3 * o + 2 * 5 * o;                 // f2: depthwise 3×1 conv, SubSpectralNorm (affine per sub-band)
                p += 3 * o + 2 * o + o * o;             // f1: depthwise 1×3 conv, BatchNorm, 1×1 conv
            }
        p += 25L * c[4] + (long)c[4] * c[5] + 2 * c[5]; // head: depthwise 5×5, 1×1 conv, BatchNorm
        return p + (long)c[5] * classes + classes;       // 1×1 conv with bias to the classes
    }

    /// <summary>Weights for 12 classes and one channel of 40 log-mels: exactly the published code's plus the input
    /// BatchNorm's 2, and within 5% of the paper's rounded figures (9.2k, 18k, 27k, 54k, 188k, 321k). The largest gap,
    /// 17.2k against ~18k at τ = 1.5 (4.7%), is the published code's own (it has no rounding at τ = 1.5: 12, 18, 24, 30,
    /// 48 channels); every other size is within 1.1%.</summary>
    [TestMethod]
    [DataRow(BcResNetSize.Tau1, 9_200)]
    [DataRow(BcResNetSize.Tau1_5, 18_000)]
    [DataRow(BcResNetSize.Tau2, 27_000)]
    [DataRow(BcResNetSize.Tau3, 54_000)]
    [DataRow(BcResNetSize.Tau6, 188_000)]
    [DataRow(BcResNetSize.Tau8, 321_000)]
    public void Weights_AreThePublishedCodes_AndThePapers(BcResNetSize size, int paper)
    {
        using var net = Network(size, classes: 12);
        long ours = net.parameters().Sum(p => p.numel());
        long published = PublishedCodeWeights(BcResNet.Tau(size), 12);
        double gap = (ours - paper) / (double)paper;
        Console.WriteLine($"BC-ResNet-{BcResNet.Tau(size)}: {ours} weights, published code {published} (+2 input BatchNorm), paper ~{paper} ({gap:P1})");
        Assert.AreEqual(published + 2, ours, "the published code's weights and the input BatchNorm's");
        Assert.IsLessThanOrEqualTo(0.05, Math.Abs(gap), $"{ours} against the paper's ~{paper}");
    }

    [TestMethod]
    public void SubSpectralNorm_NormalisesEachSubBandSeparately()
    {
        using var scope = NewDisposeScope();
        using var ssn = new SubSpectralNorm("ssn", channels: 3, sub_bands: 5);
        var generator = new Generator(seed: 4);
        // (8, 3, 20, 6): sub-band s of 4 bins gets its own offset and scale, so one set of statistics over the whole
        // frequency axis would leave the sub-bands far from mean 0 and variance 1.
        var offset = tensor(new float[] { -6, -2, 0, 3, 9 }).repeat_interleave(4).reshape(1, 1, 20, 1);
        var scale = tensor(new float[] { 0.5f, 1, 4, 2, 10 }).repeat_interleave(4).reshape(1, 1, 20, 1);
        var x = randn(new long[] { 8, 3, 20, 6 }, generator: generator).mul(scale).add(offset, HeldScalars.One);
        var y = ssn.call(x).reshape(8, 3, 5, 4, 6); // (batch, channel, sub-band, bin, frame)
        var mean = y.mean([0, 3, 4]);
        var variance = y.var([0, 3, 4], unbiased: false);
        Compare.Shape(mean, [3, 5], "per channel and sub-band");
        Assert.AreEqual(0, mean.abs().max().item<float>(), 1e-5, "each sub-band's mean");
        Assert.AreEqual(0, variance.sub(ones(3, 5)).abs().max().item<float>(), 1e-4, "each sub-band's variance (σ²/(σ² + ε), 4e-5 under 1 for the smallest σ = 0.5)");
        Assert.AreEqual(15L, ssn.state_dict()["norm.running_mean"].numel(), "statistics per channel and sub-band");

        // The sub-bands are independent: changing sub-band 2 of the input changes only sub-band 2 of the output.
        var changed = x.clone();
        using (no_grad()) changed[.., .., 8..12, ..].mul_(HeldScalars.Two);
        var y2 = ssn.call(changed).reshape(8, 3, 5, 4, 6);
        var moved = y2.sub(y).abs().amax([0, 1, 3, 4]);
        var m = Compare.ToArray(moved);
        for (int s = 0; s < 5; s++)
            if (s != 2) Assert.AreEqual(0f, m[s], $"sub-band {s} changed with sub-band 2");
        // A scaled sub-band normalises to the same values.
        Assert.AreEqual(0f, m[2], 1e-4f, "sub-band 2 doubled normalises to the same values");

        var e = Assert.Throws<ArgumentException>(() => ssn.call(zeros(2, 3, 7, 4)));
        StringAssert.Contains(e.Message, "freq a multiple of 5");
    }

    [TestMethod]
    public void Evaluation_IsDeterministic_AndDiffersFromTrainingOnlyByBatchNormAndDropout()
    {
        using var scope = NewDisposeScope();
        var x = randn(new long[] { 4, 40, 40 }, generator: new Generator(seed: 5));
        using var _ = no_grad();

        using var net = Network(BcResNetSize.Tau1, dropout: 0.5);
        net.train();
        for (int i = 0; i < 3; i++) net.call(x); // move the running statistics away from 0 and 1
        net.eval();
        var a = Compare.ToArray(net.call(x));
        CollectionAssert.AreEqual(a, Compare.ToArray(net.call(x)), "evaluation twice");

        // Training with every BatchNorm held in evaluation mode: dropout alone differs from evaluation.
        net.train();
        foreach (var bn in BatchNorms(net)) bn.eval();
        var dropped1 = Compare.ToArray(net.call(x));
        var dropped2 = Compare.ToArray(net.call(x));
        CollectionAssert.AreNotEqual(dropped1, dropped2, "channel dropout draws new masks");
        CollectionAssert.AreNotEqual(a, dropped1, "channel dropout");

        // Without dropout, training with the BatchNorms in evaluation mode is evaluation, bit for bit.
        using var plain = Network(BcResNetSize.Tau1, dropout: 0);
        plain.train();
        for (int i = 0; i < 3; i++) plain.call(x);
        var trained1 = Compare.ToArray(plain.call(x));
        CollectionAssert.AreEqual(trained1, Compare.ToArray(plain.call(x)), "training without dropout is deterministic");
        plain.eval();
        var evaluated = Compare.ToArray(plain.call(x));
        CollectionAssert.AreNotEqual(trained1, evaluated, "batch statistics against running statistics");
        plain.train();
        foreach (var bn in BatchNorms(plain)) bn.eval();
        CollectionAssert.AreEqual(evaluated, Compare.ToArray(plain.call(x)), "training with the BatchNorms in evaluation mode");
    }

    private static IEnumerable<BatchNormalization> BatchNorms(nn.Module net)
        => net.modules().OfType<BatchNormalization>();

    /// <summary>Three "words" as log-mel-like patterns (a low band, a high band, a rising sweep) in noise, each at a
    /// random time offset.</summary>
    private static (Tensor x, Tensor y) Words(int perClass, Generator generator)
    {
        const int mels = 40, frames = 16;
        var x = randn(new long[] { 3 * perClass, mels, frames }, generator: generator);
        var data = Compare.ToArray(x);
        var labels = new long[3 * perClass];
        var offsets = randint(0, 6, new long[] { 3 * perClass }, generator: generator).data<long>().ToArray();
        for (int i = 0; i < 3 * perClass; i++)
        {
            int word = i % 3;
            labels[i] = word;
            for (int t = 0; t < 10; t++)
            {
                int frame = (int)offsets[i] + t;
                int mel = word switch { 0 => 6 + t % 3, 1 => 30 + t % 3, _ => 5 + t * 3 };
                for (int k = 0; k < 2; k++) data[(i * mels + mel + k) * frames + frame] += 3;
            }
        }
        return (tensor(data, [3 * perClass, mels, frames]), tensor(labels));
    }

    [TestMethod]
    public void AdamW_LearnsSyntheticWords_InAFewDozenSteps()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(7);
        using var net = Network(BcResNetSize.Tau1, classes: 3);
        using var optimizer = new HeldScalarAdamW(net.parameters(), lr: 1e-2, weight_decay: 1e-3);
        var generator = new Generator(seed: 8);
        var watch = Stopwatch.StartNew();
        var losses = new List<float>();
        net.train();
        for (int step = 0; step < 30; step++)
        {
            using var stepScope = NewDisposeScope();
            var (x, y) = Words(4, generator);
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(net.call(x), y);
            loss.backward();
            optimizer.step();
            losses.Add(loss.item<float>());
        }
        net.eval();
        var (tx, ty) = Words(20, generator);
        double accuracy;
        using (no_grad()) accuracy = net.call(tx).argmax(1).eq(ty).to(ScalarType.Float32).mean().item<float>();
        double first = losses.Take(5).Average(), last = losses.TakeLast(5).Average();
        Console.WriteLine($"loss {first:F3} → {last:F3}, held-out accuracy {accuracy:P0}, {watch.Elapsed.TotalSeconds:F1} s");
        Assert.IsLessThan(first * 0.3, last, $"loss {first:F3} → {last:F3}");
        Assert.IsGreaterThanOrEqualTo(0.9, accuracy, "held-out accuracy");
    }

    [TestMethod]
    public void Rejects_BadArguments_NamingThem()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Network((BcResNetSize)6));
        StringAssert.Contains(e.Message, "size must be a defined BcResNetSize, got: 6");
        e = Assert.Throws<ArgumentOutOfRangeException>(() => BcResNet.SizeOf(2.5));
        StringAssert.Contains(e.Message, "tau must be one of 1, 1.5, 2, 3, 6, 8, got: 2.5");
        Assert.AreEqual(BcResNetSize.Tau1_5, BcResNet.SizeOf(1.5));
        Assert.AreEqual(BcResNetSize.Tau8, BcResNet.SizeOf(8));
        e = Assert.Throws<ArgumentOutOfRangeException>(() => Network(classes: 1));
        StringAssert.Contains(e.Message, "classes must be at least 2, got: 1");
        e = Assert.Throws<ArgumentOutOfRangeException>(() => Network(channels: 0));
        StringAssert.Contains(e.Message, "inputChannels must be positive, got: 0");
        e = Assert.Throws<ArgumentOutOfRangeException>(() => Network(dropout: 1));
        StringAssert.Contains(e.Message, "dropout must be in [0, 1), got: 1");

        using var scope = NewDisposeScope();
        using var net = Network(channels: 2);
        var wrong = Assert.Throws<ArgumentException>(() => net.call(zeros(2, 40, 10)));
        StringAssert.Contains(wrong.Message, "expected (batch, 2, mels, frames) after the front end, got [2, 1, 40, 10]");
        wrong = Assert.Throws<ArgumentException>(() => net.call(zeros(2, 2, 40, 0)));
        StringAssert.Contains(wrong.Message, "got [2, 2, 40, 0]");
    }
}
