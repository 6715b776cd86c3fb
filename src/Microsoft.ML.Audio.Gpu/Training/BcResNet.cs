using TorchSharp.Modules;

namespace Microsoft.ML.Audio.Gpu.Training;

/// <summary>Width of <see cref="BcResNet"/>: the paper's BC-ResNet-τ, τ the width multiplier.</summary>
public enum BcResNetSize
{
    // Saved in models: do not change the values.
    /// <summary>BC-ResNet-1, τ = 1 (about 9.2 thousand weights with 12 classes).</summary>
    Tau1 = 0,
    /// <summary>BC-ResNet-1.5, τ = 1.5 (about 17 thousand weights).</summary>
    Tau1_5 = 1,
    /// <summary>BC-ResNet-2, τ = 2 (about 27 thousand weights).</summary>
    Tau2 = 2,
    /// <summary>BC-ResNet-3, τ = 3 (about 54 thousand weights).</summary>
    Tau3 = 3,
    /// <summary>BC-ResNet-6, τ = 6 (about 188 thousand weights).</summary>
    Tau6 = 4,
    /// <summary>BC-ResNet-8, τ = 8 (about 321 thousand weights).</summary>
    Tau8 = 5,
}

/// <summary>
/// BC-ResNet (Kim, Chang, Lee and Sung, "Broadcasted Residual Learning for Efficient Keyword Spotting", Interspeech
/// 2021): a keyword-spotting classifier for log-mel spectrograms whose residual functions are mostly 1-D temporal
/// convolutions on the frequency-averaged features, broadcast back over frequency; optionally preceded by the audio
/// front end, as <see cref="AudioCnn"/>.
/// </summary>
/// <remarks>
/// <para>Input: log-mel <c>(batch, mels, frames)</c> or <c>(batch, channels, mels, frames)</c>; with a front end, audio
/// <c>(batch, samples)</c> or <c>(batch, channels, samples)</c>. Output: logits <c>(batch, classes)</c>.</para>
/// <para>Layers (τ the width multiplier, F the mel bins, T the frames):</para>
/// <list type="number">
/// <item>[front end] → BatchNorm over the input channels (learned input scaling; not in the paper, which feeds
/// log-mels as they are: 2 weights a channel) → SpecAugment (training only; masks hold 0, the normalised mean);</item>
/// <item>zero padding of the mel axis at its top (high-frequency) end to the next multiple of 40, when F is not one
/// (<see cref="PaddedMels"/>): the three frequency strides and SubSpectralNorm's 5 sub-bands need F/8 to be a multiple
/// of 5. The pad holds 0, the normalised mean, like a SpecAugment mask. The paper's 40 mels pass unpadded; 64 become 80,
/// 13 become 40;</item>
/// <item>5×5 conv, stride (2, 1), to 16τ channels → BatchNorm → ReLU: <c>(B, 16τ, F/2, T)</c>;</item>
/// <item>four stages of 2, 2, 4 and 4 BC-ResBlocks with 8τ, 12τ, 16τ and 20τ channels, temporal dilation 1, 2, 4 and 8;
/// the first block of the second and third stage has frequency stride 2: <c>(B, 20τ, F/8, T)</c>;</item>
/// <item>head: depthwise 5×5 conv (no padding in frequency, so 40 mels end at 1 bin) → 1×1 conv to 32τ → BatchNorm →
/// ReLU → average over frequency and time → linear to the classes (the paper's 1×1 conv on the pooled features).</item>
/// </list>
/// <para>A BC-ResBlock with input x: [transition blocks, the first of each stage, where the channels change: 1×1 conv →
/// BatchNorm → ReLU] → f2: depthwise 3×1 (frequency) conv → SubSpectralNorm over 5 sub-bands; then f1 on f2's average
/// over frequency: depthwise 1×3 (time, dilated) conv → BatchNorm → SiLU → 1×1 conv → channel dropout; output
/// ReLU(f2 + f1 broadcast over frequency [+ x, in the other blocks]).</para>
/// <para>The architecture and the weights counts are those of the authors' published code (Qualcomm-AI-research/bcresnet)
/// plus the input BatchNorm. Time is never strided and every temporal conv is padded, so any number of frames from 1
/// works (training needs more than one value per channel for BatchNorm: a batch of 2, or 2 frames).</para>
/// </remarks>
public sealed class BcResNet : nn.Module<Tensor, Tensor>
{
    /// <summary>SubSpectralNorm's sub-bands (the paper's 5).</summary>
    public const int SubBands = 5;

    /// <summary>The mel axis is padded to a multiple of this: 2³ (three frequency strides) × <see cref="SubBands"/>.</summary>
    public const int MelMultiple = 40;

    /// <summary>The paper's channel dropout in each block.</summary>
    public const double PaperDropout = 0.1;

    private static readonly int[] StageBlocks = [2, 2, 4, 4];
    private static readonly bool[] StageStride = [false, true, true, false];

    /// <summary>The front end, or null when the input is already a spectrogram.</summary>
    public readonly MelSpectrogram? front_end;
    private readonly SpecAugment augment;
    private readonly BatchNormalization input_norm;
    private readonly Conv2d stem_conv;
    private readonly BatchNormalization stem_norm;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;
    private readonly Conv2d head_depthwise, head_pointwise;
    private readonly BatchNormalization head_norm;
    private readonly Linear classifier;
    private readonly int _inChannels;

    /// <summary>τ of each size.</summary>
    public static double Tau(BcResNetSize size) => size switch
    {
        BcResNetSize.Tau1 => 1,
        BcResNetSize.Tau1_5 => 1.5,
        BcResNetSize.Tau2 => 2,
        BcResNetSize.Tau3 => 3,
        BcResNetSize.Tau6 => 6,
        BcResNetSize.Tau8 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(size), size, $"size must be a defined BcResNetSize, got: {size}"),
    };

    /// <summary>The size of a width multiplier τ.</summary>
    /// <param name="tau">1, 1.5, 2, 3, 6 or 8 (the paper's).</param>
    public static BcResNetSize SizeOf(double tau)
    {
        foreach (var size in Enum.GetValues<BcResNetSize>())
            if (Tau(size) == tau) return size;
        throw new ArgumentOutOfRangeException(nameof(tau), tau, $"tau must be one of 1, 1.5, 2, 3, 6, 8, got: {tau}");
    }

    /// <summary>Channels of each size: the stem (16τ), the four stages (8τ, 12τ, 16τ, 20τ) and the head (32τ), with
    /// the published code's rounding (base ⌊8τ⌋, stages ⌊1.5·base⌋ and ⌊2.5·base⌋).</summary>
    public static int[] Widths(BcResNetSize size)
    {
        int b = (int)(8 * Tau(size));
        return [2 * b, b, (int)(1.5 * b), 2 * b, (int)(2.5 * b), 4 * b];
    }

    /// <summary>The mel bins the blocks see for <paramref name="mels"/> input bins: the next multiple of
    /// <see cref="MelMultiple"/> (at least 40).</summary>
    public static long PaddedMels(long mels) => Math.Max(1, (mels + MelMultiple - 1) / MelMultiple) * MelMultiple;

    /// <summary>Creates the network.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="inputChannels">Audio or spectrogram channels (1 for mono).</param>
    /// <param name="size">Width, τ.</param>
    /// <param name="dropout">Channel dropout at the end of each block's temporal branch (<see cref="PaperDropout"/> in the paper).</param>
    /// <param name="frontEnd">Front end for raw audio input (the network takes ownership), or null.</param>
    /// <param name="augment">SpecAugment applied in training mode (the network takes ownership), or null for none.</param>
    public BcResNet(string name, int classes, int inputChannels, BcResNetSize size, double dropout, MelSpectrogram? frontEnd, SpecAugment? augment)
        : base(name)
    {
        if (!Enum.IsDefined(size)) throw new ArgumentOutOfRangeException(nameof(size), size, $"size must be a defined BcResNetSize, got: {size}");
        (front_end, this.augment, input_norm) = SpectrogramStem.Create(classes, inputChannels, dropout, frontEnd, augment);
        _inChannels = inputChannels;

        var c = Widths(size);
        stem_conv = Lifetimes.Layer(() => nn.Conv2d(inputChannels, c[0], (5, 5), stride: (2, 1), padding: (2, 2), bias: false));
        stem_norm = AudioLayers.BatchNorm(c[0]);
        var list = new List<nn.Module<Tensor, Tensor>>();
        int inCh = c[0];
        for (int stage = 0; stage < StageBlocks.Length; stage++)
        {
            int outCh = c[stage + 1];
            for (int i = 0; i < StageBlocks[stage]; i++)
            {
                bool strided = StageStride[stage] && i == 0;
                list.Add(new BcResBlock($"block{list.Count}", inCh, outCh, strided ? 2 : 1, 1 << stage, dropout));
                inCh = outCh;
            }
        }
        blocks = nn.ModuleList(list.ToArray());
        head_depthwise = Lifetimes.Layer(() => nn.Conv2d(inCh, inCh, (5, 5), padding: (0, 2), groups: inCh, bias: false));
        head_pointwise = Lifetimes.Layer(() => nn.Conv2d(inCh, c[5], (1, 1), bias: false));
        head_norm = AudioLayers.BatchNorm(c[5]);
        classifier = Lifetimes.Layer(() => nn.Linear(c[5], classes));

        if (front_end is not null) register_module("front_end", front_end);
        register_module("augment", this.augment);
        register_module("input_norm", input_norm);
        register_module("stem_conv", stem_conv);
        register_module("stem_norm", stem_norm);
        register_module("blocks", blocks);
        register_module("head_depthwise", head_depthwise);
        register_module("head_pointwise", head_pointwise);
        register_module("head_norm", head_norm);
        register_module("classifier", classifier);
    }

    /// <inheritdoc cref="AudioCnn.forward"/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = SpectrogramStem.Forward(input, front_end, _inChannels, input_norm, augment);
        long pad = PaddedMels(x.shape[2]) - x.shape[2];
        if (pad > 0) x = nn.functional.pad(x, [0, 0, 0, pad]); // (left, right, top, bottom) of (mels, frames): zeros above the top mel
        x = nn.functional.relu(stem_norm.call(stem_conv.call(x)));
        foreach (var block in blocks) x = block.call(x);
        x = nn.functional.relu(head_norm.call(head_pointwise.call(head_depthwise.call(x))));
        x = x.mean([2, 3]);
        return classifier.call(x).MoveToOuterDisposeScope();
    }

    /// <summary>A BC-ResBlock: 2-D frequency-wise branch f2, 1-D temporal branch f1 on its frequency average, broadcast sum.</summary>
    private sealed class BcResBlock : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d? transition_conv;
        private readonly BatchNormalization? transition_norm;
        private readonly Conv2d frequency_conv;
        private readonly SubSpectralNorm frequency_norm;
        private readonly Conv2d temporal_conv;
        private readonly BatchNormalization temporal_norm;
        private readonly Conv2d pointwise_conv;
        private readonly Dropout2d dropout;

        public BcResBlock(string name, int inChannels, int outChannels, int frequencyStride, int dilation, double dropout) : base(name)
        {
            if (inChannels != outChannels)
            {
                transition_conv = Lifetimes.Layer(() => nn.Conv2d(inChannels, outChannels, (1, 1), bias: false));
                transition_norm = AudioLayers.BatchNorm(outChannels);
                register_module("transition_conv", transition_conv);
                register_module("transition_norm", transition_norm);
            }
            else if (frequencyStride != 1)
            {
                throw new ArgumentException("a strided block must change the channels (its output cannot be added to its input)");
            }
            frequency_conv = Lifetimes.Layer(() => nn.Conv2d(outChannels, outChannels, (3, 1), stride: (frequencyStride, 1), padding: (1, 0), groups: outChannels, bias: false));
            frequency_norm = new SubSpectralNorm("frequency_norm", outChannels, SubBands);
            temporal_conv = Lifetimes.Layer(() => nn.Conv2d(outChannels, outChannels, (1, 3), padding: (0, dilation), dilation: (1, dilation), groups: outChannels, bias: false));
            temporal_norm = AudioLayers.BatchNorm(outChannels);
            pointwise_conv = Lifetimes.Layer(() => nn.Conv2d(outChannels, outChannels, (1, 1), bias: false));
            this.dropout = nn.Dropout2d(dropout);
            register_module("frequency_conv", frequency_conv);
            register_module("frequency_norm", frequency_norm);
            register_module("temporal_conv", temporal_conv);
            register_module("temporal_norm", temporal_norm);
            register_module("pointwise_conv", pointwise_conv);
            register_module("dropout", this.dropout);
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var shortcut = x;
            if (transition_conv is not null) x = nn.functional.relu(transition_norm!.call(transition_conv.call(x)));
            var f2 = frequency_norm.call(frequency_conv.call(x));                   // (B, C, F', T)
            var f1 = f2.mean([2], keepdim: true);                                  // (B, C, 1, T)
            f1 = nn.functional.silu(temporal_norm.call(temporal_conv.call(f1)));
            f1 = dropout.call(pointwise_conv.call(f1));
            var y = f2.add(f1, HeldScalars.One);                                   // broadcast over frequency
            if (transition_conv is null) y = y.add(shortcut, HeldScalars.One);
            return nn.functional.relu(y).MoveToOuterDisposeScope();
        }
    }
}

/// <summary>
/// SubSpectralNorm (Chang et al., Interspeech 2021): batch normalisation of each of <c>S</c> equal frequency sub-bands
/// of each channel separately, with its own statistics, weight and bias.
/// </summary>
/// <remarks>Input and output <c>(batch, channels, freq, time)</c>, <c>freq</c> a multiple of <c>S</c>; the input is
/// viewed as <c>(batch, channels·S, freq/S, time)</c> (channel c, sub-band s at c·S + s; sub-band s holds bins
/// s·freq/S to (s+1)·freq/S − 1) and batch-normalised over its <c>channels·S</c> channels with
/// <see cref="BatchNormalization"/>.</remarks>
internal sealed class SubSpectralNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>Channels of the input.</summary>
    public readonly long channels;
    /// <summary>Sub-bands of the frequency axis.</summary>
    public readonly long sub_bands;
    private readonly BatchNormalization norm;

    public SubSpectralNorm(string name, long channels, long sub_bands) : base(name)
    {
        this.channels = Check.Positive(channels);
        this.sub_bands = Check.Positive(sub_bands);
        norm = AudioLayers.BatchNorm(channels * sub_bands);
        register_module("norm", norm);
    }

    public override Tensor forward(Tensor input)
    {
        if (input.dim() != 4 || input.shape[1] != channels || input.shape[2] % sub_bands != 0)
            throw new ArgumentException($"input must be (batch, {channels}, freq, time) with freq a multiple of {sub_bands}, got [{string.Join(", ", input.shape)}]", nameof(input));
        using var scope = NewDisposeScope();
        long b = input.shape[0], f = input.shape[2], t = input.shape[3];
        var y = norm.call(input.reshape(b, channels * sub_bands, f / sub_bands, t));
        return y.reshape(b, channels, f, t).MoveToOuterDisposeScope();
    }
}
