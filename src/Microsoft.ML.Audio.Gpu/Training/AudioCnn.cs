using TorchSharp.Modules;

namespace Microsoft.ML.Audio.Gpu.Training;

/// <summary>Size of <see cref="AudioCnn"/>.</summary>
public enum AudioCnnSize
{
    // Saved in models: do not change the values.
    /// <summary>Three conv blocks of 16, 32 and 64 channels (about 70 thousand weights): small data, CPUs.</summary>
    Small = 0,
    /// <summary>Four conv blocks of 32, 64, 128 and 256 channels (about 1.2 million weights).</summary>
    Large = 1,
}

/// <summary>
/// A convolutional classifier for log-mel spectrograms, optionally preceded by the audio front end (Kapre's way:
/// waveform in, STFT → mel → dB as the first layers, on the device).
/// </summary>
/// <remarks>
/// <para>Input: log-mel <c>(batch, mels, frames)</c> or <c>(batch, channels, mels, frames)</c>; with a front end, audio
/// <c>(batch, samples)</c> or <c>(batch, channels, samples)</c>. Output: logits <c>(batch, classes)</c>.</para>
/// <para>Layers: [front end] → BatchNorm over the input channels (learned input scaling) → SpecAugment (training
/// only; masks hold 0, the normalised mean) → per block: (3×3 conv → BatchNorm → ReLU) × 2 → 2×2 max-pool → dropout → global average pool → dropout → linear.
/// Pooling is skipped along an axis once it is down to 1, so short inputs work.</para>
/// </remarks>
public sealed class AudioCnn : nn.Module<Tensor, Tensor>
{
    /// <summary>The front end, or null when the input is already a spectrogram.</summary>
    public readonly MelSpectrogram? front_end;
    private readonly SpecAugment augment;
    private readonly BatchNormalization input_norm;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;
    private readonly Dropout head_dropout;
    private readonly Linear head;
    private readonly int _inChannels;

    /// <summary>Conv widths of each size.</summary>
    public static int[] Widths(AudioCnnSize size) => size == AudioCnnSize.Large ? [32, 64, 128, 256] : [16, 32, 64];

    /// <summary>Creates the network.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="inputChannels">Audio or spectrogram channels (1 for mono).</param>
    /// <param name="size">Network size.</param>
    /// <param name="dropout">Dropout after each block and before the head.</param>
    /// <param name="frontEnd">Front end for raw audio input (the network takes ownership), or null.</param>
    /// <param name="augment">SpecAugment applied in training mode (the network takes ownership), or null for none.</param>
    public AudioCnn(string name, int classes, int inputChannels, AudioCnnSize size, double dropout, MelSpectrogram? frontEnd, SpecAugment? augment)
        : base(name)
    {
        (front_end, this.augment, input_norm) = SpectrogramStem.Create(classes, inputChannels, dropout, frontEnd, augment);
        _inChannels = inputChannels;
        var list = new List<nn.Module<Tensor, Tensor>>();
        int inCh = inputChannels;
        foreach (int w in Widths(size))
        {
            list.Add(new ConvBlock($"block{list.Count}", inCh, w, dropout));
            inCh = w;
        }
        blocks = nn.ModuleList(list.ToArray());
        head_dropout = nn.Dropout(dropout);
        head = Lifetimes.Layer(() => nn.Linear(inCh, classes));

        if (front_end is not null) register_module("front_end", front_end);
        register_module("augment", this.augment);
        register_module("input_norm", input_norm);
        register_module("blocks", blocks);
        register_module("head_dropout", head_dropout);
        register_module("head", head);
    }

    /// <summary>Logits for a batch.</summary>
    /// <param name="input">Spectrograms <c>(batch, [channels,] mels, frames)</c>, or audio <c>(batch, [channels,] samples)</c> with a front end.</param>
    /// <returns><c>(batch, classes)</c>.</returns>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = SpectrogramStem.Forward(input, front_end, _inChannels, input_norm, augment);
        foreach (var block in blocks) x = block.call(x);
        x = x.mean([2, 3]);
        return head.call(head_dropout.call(x)).MoveToOuterDisposeScope();
    }

    private sealed class ConvBlock : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1, conv2;
        private readonly BatchNormalization bn1, bn2;
        private readonly Dropout drop;

        public ConvBlock(string name, int inChannels, int outChannels, double dropout) : base(name)
        {
            conv1 = Lifetimes.Layer(() => nn.Conv2d(inChannels, outChannels, 3, padding: 1, bias: false));
            bn1 = AudioLayers.BatchNorm(outChannels);
            conv2 = Lifetimes.Layer(() => nn.Conv2d(outChannels, outChannels, 3, padding: 1, bias: false));
            bn2 = AudioLayers.BatchNorm(outChannels);
            drop = nn.Dropout(dropout);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            x = nn.functional.relu(bn1.call(conv1.call(x)));
            x = nn.functional.relu(bn2.call(conv2.call(x)));
            long kh = x.shape[2] >= 2 ? 2 : 1, kw = x.shape[3] >= 2 ? 2 : 1;
            if (kh > 1 || kw > 1) x = nn.functional.max_pool2d(x, [kh, kw]);
            return drop.call(x).MoveToOuterDisposeScope();
        }
    }
}

/// <summary>The input side the networks share: [front end] → <c>(batch, channels, mels, frames)</c> → learned input
/// scaling → SpecAugment (training only).</summary>
internal static class SpectrogramStem
{
    /// <summary>Checks the arguments every classifier network takes and makes the stem's parts: the front end, the
    /// augmentation (none when null) and the input normalisation.</summary>
    public static (MelSpectrogram? frontEnd, SpecAugment augment, BatchNormalization norm) Create(int classes, int inputChannels,
        double dropout, MelSpectrogram? frontEnd, SpecAugment? augment)
    {
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"classes must be at least 2, got: {classes}");
        if (inputChannels < 1) throw new ArgumentOutOfRangeException(nameof(inputChannels), inputChannels, $"inputChannels must be positive, got: {inputChannels}");
        if (!(dropout >= 0 && dropout < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, $"dropout must be in [0, 1), got: {dropout}");
        return (frontEnd, augment ?? AudioLayers.SpecAugment(0, 0, 0, 0), AudioLayers.BatchNorm(inputChannels));
    }

    /// <summary>The normalised, masked spectrogram <c>(batch, channels, mels, frames)</c>.</summary>
    /// <param name="input">Spectrograms <c>(batch, [channels,] mels, frames)</c>, or audio with a front end.</param>
    /// <param name="frontEnd">The front end, or null for spectrogram input.</param>
    /// <param name="channels">Spectrogram channels expected after the front end.</param>
    /// <param name="norm">The learned input scaling (batch norm over the channels).</param>
    /// <param name="augment">SpecAugment (the identity outside training).</param>
    public static Tensor Forward(Tensor input, MelSpectrogram? frontEnd, int channels, BatchNormalization norm, SpecAugment augment)
    {
        using var scope = NewDisposeScope();
        var x = frontEnd is null ? input : frontEnd.call(input);
        if (x.dim() == 3) x = x.unsqueeze(1); // (batch, 1, mels, frames)
        if (x.dim() != 4 || x.shape[1] != channels || x.shape[2] < 1 || x.shape[3] < 1)
            throw new ArgumentException($"expected (batch, {channels}, mels, frames) after the front end, got [{string.Join(", ", x.shape)}]", nameof(input));
        x = norm.call(x); // a new tensor, made in this scope
        return augment.call(x).MoveToOuterDisposeScope(); // after normalisation, so masked cells hold the mean (0)
    }
}
