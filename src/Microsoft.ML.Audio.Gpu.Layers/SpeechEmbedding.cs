using System.Reflection;
using TorchSharp.Modules;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// The log-mel front end of Google's speech embedding model as re-implemented by openWakeWord
/// (<c>melspectrogram.onnx</c>), built from this library's layers: a convolutional STFT (n_fft 512, a 400-sample Hann
/// window, hop 160, no centring), power, a 32-band mel filterbank, decibels with an 80 dB range, then <c>dB / 10 + 2</c>.
/// </summary>
/// <remarks>
/// <para>Input: 16 kHz audio in [-1, 1], <c>(batch, samples)</c>; it is scaled by 32768 first, because the model was
/// trained on 16-bit sample values. Output: <c>(batch, 32, frames)</c> with <c>frames = 1 + (samples − 512) / 160</c>.</para>
/// <para>The 80 dB range is measured from each example's own maximum. The ONNX graph takes the maximum over the whole
/// batch, which is the same for the batches of one that openWakeWord runs.</para>
/// </remarks>
public sealed class SpeechEmbeddingFrontEnd : nn.Module<Tensor, Tensor>
{
    /// <summary>Sample rate the model was trained at.</summary>
    public const int SampleRate = 16000;
    /// <summary>FFT length, window length and hop of the STFT.</summary>
    public const int FftLength = 512, WindowLength = 400, HopLength = 160;
    /// <summary>Mel bands.</summary>
    public const int MelBinCount = 32;

    // 16-bit full scale: the decoder maps a 16-bit sample s to s / 32768.
    private static readonly Scalar Int16Scale = 32768.ToScalar();
    private static readonly Scalar Ten = 10.ToScalar();

    private readonly ConvStft stft;
    private readonly ApplyFilterbank mel;
    private readonly AmplitudeToDecibel db;

    /// <summary>Creates the front end with a fresh Fourier basis and an all-zero filterbank; load the pretrained weights
    /// (<see cref="SpeechEmbedding.Pretrained"/>) before use.</summary>
    public SpeechEmbeddingFrontEnd(string name) : base(name)
    {
        stft = AudioLayers.ConvStft(FftLength, WindowLength, HopLength, WindowType.Hann, FramePadding.NoCenter, output: SpectrumType.Power, trainable: false, name: "stft");
        mel = AudioLayers.ApplyFilterbank(zeros(FftLength / 2 + 1, MelBinCount), name: "mel");
        db = AudioLayers.AmplitudeToDecibel(SpectrumType.Power, reference: 1, amin: 1e-10, top_db: 80);
        RegisterComponents();
    }

    /// <summary>The convolutional STFT.</summary>
    public ConvStft Stft => stft;

    /// <summary>The mel filterbank <c>(257, 32)</c>.</summary>
    public ApplyFilterbank Mel => mel;

    /// <summary>The decibel stage (80 dB range per example).</summary>
    internal AmplitudeToDecibel Decibel => db;

    /// <summary>Frames of <paramref name="samples"/> samples.</summary>
    public static long frame_count(long samples) => samples >= FftLength ? 1 + (samples - FftLength) / HopLength : 0;

    /// <summary>Log-mel features.</summary>
    /// <param name="input">16 kHz audio <c>(batch, samples)</c>, at least 512 samples.</param>
    /// <returns><c>(batch, 32, frames)</c>.</returns>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() != 2 || input.shape[1] < FftLength)
            throw new ArgumentException($"input must be 16 kHz audio (batch, samples) with at least {FftLength} samples, got [{string.Join(", ", input.shape)}]", nameof(input));
        using var scope = NewDisposeScope();
        var power = stft.call(input.mul(Int16Scale));
        var logMel = db.call(mel.call(power));
        return logMel.div(Ten).add(HeldScalars.Two, HeldScalars.One).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The convolutional network of Google's speech embedding model (openWakeWord's <c>embedding_model.onnx</c>): 76
/// log-mel frames (760 ms) in, one 96-dimensional embedding out.
/// </summary>
/// <remarks>
/// <para>Input: <c>(batch, 76, 32)</c> frames × mels, as <see cref="SpeechEmbeddingFrontEnd"/> makes them (transposed).
/// Output: <c>(batch, 96)</c>.</para>
/// <para>Layers: 19 convolutions (3×3 first, then alternating 1×3 along the mels with padding and 3×1 along time
/// without), each followed by leaky ReLU (slope 0.2) and a floor at −0.4; max-pooling 2×2, 1×2, 2×2, 1×2, 2×2 after
/// convolutions 3, 7, 11, 15 and 19; a last 3×1 convolution without bias or activation. The ONNX file's batch
/// normalisation is already folded into the convolutions' weights and biases.</para>
/// </remarks>
public sealed class SpeechEmbeddingNetwork : nn.Module<Tensor, Tensor>
{
    /// <summary>Frames of one window and embedding size.</summary>
    public const int WindowFrames = 76, EmbeddingSize = 96;

    private static readonly Scalar Floor = (-0.4).ToScalar();
    // nn.functional.leaky_relu converts its double slope to a temporary Scalar: the tensor method takes a held one.
    private static readonly Scalar Slope = 0.2.ToScalar();

    /// <summary>Each convolution: output and input channels, kernel height (time) and width (mels), padding of the width.</summary>
    internal static readonly (int output, int input, int height, int width, int pad)[] Convolutions =
    [
        (24, 1, 3, 3, 1), (24, 24, 1, 3, 1), (24, 24, 3, 1, 0),
        (48, 24, 1, 3, 1), (48, 48, 3, 1, 0), (48, 48, 1, 3, 1), (48, 48, 3, 1, 0),
        (72, 48, 1, 3, 1), (72, 72, 3, 1, 0), (72, 72, 1, 3, 1), (72, 72, 3, 1, 0),
        (96, 72, 1, 3, 1), (96, 96, 3, 1, 0), (96, 96, 1, 3, 1), (96, 96, 3, 1, 0),
        (96, 96, 1, 3, 1), (96, 96, 3, 1, 0), (96, 96, 1, 3, 1), (96, 96, 3, 1, 0),
        (96, 96, 3, 1, 0),
    ];

    /// <summary>Max-pooling (height, width) after the convolution of that index.</summary>
    private static readonly Dictionary<int, (long, long)> Pools = new() { [2] = (2, 2), [6] = (1, 2), [10] = (2, 2), [14] = (1, 2), [18] = (2, 2) };

    /// <summary>The max-pooling (height, width) after convolution <paramref name="index"/>, if any (the ONNX export's).</summary>
    internal static (long, long)? PoolAfter(int index) => Pools.TryGetValue(index, out var pool) ? pool : null;

    private readonly ModuleList<Conv2d> convs;

    /// <summary>Creates the network with random weights; load the pretrained ones (<see cref="SpeechEmbedding.Pretrained"/>).</summary>
    public SpeechEmbeddingNetwork(string name) : base(name)
    {
        var list = new List<Conv2d>();
        for (int i = 0; i < Convolutions.Length; i++)
        {
            var (o, c, h, w, p) = Convolutions[i];
            bool last = i == Convolutions.Length - 1;
            list.Add(Lifetimes.Layer(() => nn.Conv2d(c, o, (h, w), stride: (1, 1), padding: (0, p), bias: !last)));
        }
        convs = nn.ModuleList(list.ToArray());
        RegisterComponents();
    }

    /// <summary>Embeddings of 76-frame windows.</summary>
    /// <param name="input"><c>(batch, 76, 32)</c> log-mel frames.</param>
    /// <returns><c>(batch, 96)</c>.</returns>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() != 3 || input.shape[1] != WindowFrames || input.shape[2] != SpeechEmbeddingFrontEnd.MelBinCount)
            throw new ArgumentException($"input must be (batch, {WindowFrames}, {SpeechEmbeddingFrontEnd.MelBinCount}) log-mel frames, got [{string.Join(", ", input.shape)}]", nameof(input));
        using var scope = NewDisposeScope();
        var x = Convolve(input);
        return x.reshape(x.shape[0], EmbeddingSize).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The embeddings of every 76-frame window that starts at a multiple of 8 frames, in one pass over the sequence:
    /// the same numbers as <see cref="forward"/> on each window, for the cost of one window per 8 frames instead of
    /// one per 76/8 ≈ 9.5 overlapping windows.
    /// </summary>
    /// <remarks>The network is convolutional along time: its time convolutions are unpadded, its three time poolings
    /// take pairs that stay aligned for every window starting at a multiple of 8 frames, and 76 frames come out as one.
    /// So the network run on the whole sequence gives, at output step <c>w</c>, the window that starts at frame
    /// <c>8w</c> (SpeechEmbeddingTests compares the two).</remarks>
    /// <param name="frames"><c>(batch, frames, 32)</c> log-mel frames, at least 76.</param>
    /// <returns><c>(batch, windows, 96)</c>, <c>windows = 1 + (frames − 76) / 8</c>.</returns>
    public Tensor windows(Tensor frames)
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (frames.dim() != 3 || frames.shape[1] < WindowFrames || frames.shape[2] != SpeechEmbeddingFrontEnd.MelBinCount)
            throw new ArgumentException($"frames must be (batch, at least {WindowFrames}, {SpeechEmbeddingFrontEnd.MelBinCount}) log-mel frames, got [{string.Join(", ", frames.shape)}]", nameof(frames));
        using var scope = NewDisposeScope();
        long count = 1 + (frames.shape[1] - WindowFrames) / SpeechEmbedding.WindowStep;
        var x = Convolve(frames);                                                 // (batch, 96, ≥ windows, 1)
        return x.narrow(2, 0, count).squeeze(3).transpose(1, 2).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The convolutions, activations and poolings on <c>(batch, frames, 32)</c>: <c>(batch, 96, steps, 1)</c>.</summary>
    private Tensor Convolve(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input.unsqueeze(1);
        for (int i = 0; i < convs.Count; i++)
        {
            x = convs[i].call(x);
            if (i == convs.Count - 1) break;
            x = x.leaky_relu(Slope).clamp_min(Floor);
            if (Pools.TryGetValue(i, out var pool)) x = nn.functional.max_pool2d(x, [pool.Item1, pool.Item2]);
        }
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>How the embeddings of a clip's windows are combined.</summary>
public enum EmbeddingPooling
{
    // Saved in models: do not change the values.
    /// <summary>Mean and maximum over the windows, concatenated: 192 values.</summary>
    MeanMax = 0,
    /// <summary>Mean over the windows: 96 values.</summary>
    Mean = 1,
    /// <summary>Maximum over the windows: 96 values.</summary>
    Max = 2,
    /// <summary>No pooling: one 96-value embedding per window.</summary>
    None = 3,
    /// <summary>Mean, maximum and (population) standard deviation over the windows, concatenated: 288 values. On real
    /// speech of people never heard the deviation adds about a point to a linear head (docs/transfer-learning.md).</summary>
    MeanMaxStd = 4,
}

/// <summary>
/// Google's speech embedding model (trained for keyword spotting; openWakeWord's re-implementation, Apache-2.0):
/// 16 kHz audio in, a 96-dimensional embedding every 80 ms out, optionally pooled over the clip. A pretrained backbone
/// for few-shot audio classification: a linear classifier on the pooled embeddings of ten clips per class already
/// separates spoken words.
/// </summary>
/// <remarks>
/// <para>Input: <c>(batch, samples)</c> 16 kHz audio in [-1, 1]; clips shorter than <see cref="min_samples"/> are padded
/// with silence, by default centred in it (<see cref="center"/>). Output: <c>(batch, windows, 96)</c> without pooling, where
/// <c>windows = 1 + (frames − 76) / 8</c>; <c>(batch, 192)</c> for <see cref="EmbeddingPooling.MeanMax"/>,
/// <c>(batch, 96)</c> for mean or max.</para>
/// <para>Weights: <see cref="Pretrained"/> loads the converted openWakeWord weights shipped inside this assembly
/// (<c>build/fetch-speech-embedding.sh</c> makes them from the ONNX files; THIRD-PARTY-NOTICES.md).</para>
/// </remarks>
public sealed class SpeechEmbedding : nn.Module<Tensor, Tensor>
{
    /// <summary>Frames between the starts of two windows (80 ms).</summary>
    public const int WindowStep = 8;
    /// <summary>Samples of the shortest clip that gives one window: 12,512 (782 ms).</summary>
    public const long WindowSamples = (SpeechEmbeddingNetwork.WindowFrames - 1) * SpeechEmbeddingFrontEnd.HopLength + SpeechEmbeddingFrontEnd.FftLength;

    private const string ResourceName = "Microsoft.ML.Audio.Gpu.SpeechEmbedding.weights";

    /// <summary>How window embeddings are pooled.</summary>
    public readonly EmbeddingPooling pooling;
    /// <summary>Clips shorter than this are padded with silence; at least <see cref="WindowSamples"/>.</summary>
    public readonly long min_samples;
    /// <summary>Where a clip shorter than <see cref="min_samples"/> sits: centred, with half the silence before it (true),
    /// or at the start, all the silence after it (false). Centred, a short word is seen whole by several 760 ms windows;
    /// at the start, only the first window sees it whole and later ones cut it at their left edge, which costs most of
    /// the accuracy on short real words (docs/transfer-learning.md).</summary>
    public readonly bool center;

    private readonly SpeechEmbeddingFrontEnd front_end;
    private readonly SpeechEmbeddingNetwork network;

    /// <summary>Creates the model with untrained weights (use <see cref="Pretrained"/> for the trained ones).</summary>
    public SpeechEmbedding(string name, EmbeddingPooling pooling = EmbeddingPooling.MeanMax, long min_samples = WindowSamples, bool center = true) : base(name)
    {
        this.center = center;
        this.pooling = Check.Defined(pooling);
        if (min_samples < WindowSamples)
            throw new ArgumentOutOfRangeException(nameof(min_samples), min_samples, $"min_samples must be at least {WindowSamples} (one window), got: {min_samples}");
        this.min_samples = min_samples;
        front_end = new SpeechEmbeddingFrontEnd("front_end");
        network = new SpeechEmbeddingNetwork("network");
        RegisterComponents();
    }

    /// <summary>The log-mel front end.</summary>
    public SpeechEmbeddingFrontEnd FrontEnd => front_end;

    /// <summary>The convolutional network.</summary>
    public SpeechEmbeddingNetwork Network => network;

    /// <summary>Values per clip: 192 for mean-and-max pooling, 288 with the deviation, else 96 (per window without pooling).</summary>
    public int output_size => PooledSize(pooling);

    /// <summary>Values per clip of <paramref name="pooling"/> (per window for <see cref="EmbeddingPooling.None"/>).</summary>
    public static int PooledSize(EmbeddingPooling pooling) => pooling switch
    {
        EmbeddingPooling.MeanMax => 2 * SpeechEmbeddingNetwork.EmbeddingSize,
        EmbeddingPooling.MeanMaxStd => 3 * SpeechEmbeddingNetwork.EmbeddingSize,
        _ => SpeechEmbeddingNetwork.EmbeddingSize,
    };

    /// <summary>Windows of a clip of <paramref name="samples"/> samples (after padding to <see cref="min_samples"/>).</summary>
    public long window_count(long samples)
    {
        long frames = SpeechEmbeddingFrontEnd.frame_count(Math.Max(samples, min_samples));
        return 1 + (frames - SpeechEmbeddingNetwork.WindowFrames) / WindowStep;
    }

    /// <summary>Silence added before and after a clip of <paramref name="samples"/> samples: none from
    /// <see cref="min_samples"/> on; else the shortfall, split with the odd sample after the clip when centred.</summary>
    public (long before, long after) padding(long samples)
    {
        long missing = Math.Max(0, min_samples - samples);
        long before = center ? missing / 2 : 0;
        return (before, missing - before);
    }

    /// <summary>The model with the pretrained weights shipped in this assembly.</summary>
    /// <param name="pooling">How window embeddings are pooled.</param>
    /// <param name="min_samples">Clips shorter than this are padded with silence; at least <see cref="WindowSamples"/>.</param>
    /// <param name="name">Module name.</param>
    /// <param name="center">Centre a short clip in <paramref name="min_samples"/> (true, the default) or pad it at its end.</param>
    public static SpeechEmbedding Pretrained(EmbeddingPooling pooling = EmbeddingPooling.MeanMax, long min_samples = WindowSamples, string name = "speech_embedding",
        bool center = true)
    {
        var model = new SpeechEmbedding(name, pooling, min_samples, center);
        try
        {
            using var stream = typeof(SpeechEmbedding).Assembly.GetManifestResourceStream(ResourceName)
                ?? throw new InvalidOperationException($"The pretrained speech embedding weights ({ResourceName}) are missing from {typeof(SpeechEmbedding).Assembly.GetName().Name}.");
            using var reader = new BinaryReader(stream);
            ModelWeights.Load(reader, model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        return model;
    }

    /// <summary>Embeddings of each window, pooled as <see cref="pooling"/> says.</summary>
    /// <param name="input">16 kHz audio <c>(batch, samples)</c>.</param>
    /// <returns><c>(batch, windows, 96)</c>, <c>(batch, 192)</c> or <c>(batch, 96)</c>.</returns>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() != 2 || !input.is_floating_point())
            throw new ArgumentException($"input must be 16 kHz floating-point audio (batch, samples), got {input.dtype} [{string.Join(", ", input.shape)}]", nameof(input));
        using var scope = NewDisposeScope();
        long samples = input.shape[1];
        var (before, after) = padding(samples);
        var audio = before + after > 0 ? nn.functional.pad(input, [before, after]) : input;
        var frames = front_end.call(audio).transpose(1, 2);                                     // (batch, frames, 32)
        var embeddings = network.windows(frames);                                                // (batch, windows, 96)
        var result = pooling switch
        {
            EmbeddingPooling.Mean => embeddings.mean([1]),
            EmbeddingPooling.Max => embeddings.amax([1]),
            EmbeddingPooling.MeanMax => cat([embeddings.mean([1]), embeddings.amax([1])], 1),
            EmbeddingPooling.MeanMaxStd => cat([embeddings.mean([1]), embeddings.amax([1]), embeddings.std([1], unbiased: false)], 1),
            _ => embeddings,
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Fills <paramref name="model"/> from the initializers of openWakeWord's two ONNX files, checking each name and
    /// shape: the STFT's real and imaginary kernels, the mel matrix, and the 20 convolutions' weights and biases.
    /// </summary>
    /// <param name="model">The model to fill.</param>
    /// <param name="initializers">ONNX initializer name → (dimensions, float32 values), from both files.</param>
    public static void LoadOnnxInitializers(SpeechEmbedding model, IReadOnlyDictionary<string, (long[] dims, float[] values)> initializers)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(initializers);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Tensor Get(string onnxName, long[] shape)
        {
            if (!initializers.TryGetValue(onnxName, out var init))
                throw new InvalidDataException($"The ONNX model has no initializer '{onnxName}'.");
            if (!init.dims.SequenceEqual(shape))
                throw new InvalidDataException($"ONNX initializer '{onnxName}' is [{string.Join(", ", init.dims)}]; the layer needs [{string.Join(", ", shape)}].");
            return tensor(init.values, shape);
        }
        var state = model.state_dict();
        long bins = SpeechEmbeddingFrontEnd.FftLength / 2 + 1;
        var real = Get("0.stft.conv_real.weight", [bins, 1, SpeechEmbeddingFrontEnd.FftLength]);
        var imag = Get("0.stft.conv_imag.weight", [bins, 1, SpeechEmbeddingFrontEnd.FftLength]);
        state["front_end.stft.kernel"].copy_(cat([real, imag], 0));
        state["front_end.mel.filterbank"].copy_(Get("1.melW", [bins, SpeechEmbeddingFrontEnd.MelBinCount]));
        var convs = SpeechEmbeddingNetwork.Convolutions;
        for (int i = 0; i < convs.Length; i++)
        {
            var (o, c, h, w, _) = convs[i];
            string prefix = i == 0 ? "model/conv2d" : $"model/conv2d_{i}";
            if (i == convs.Length - 1)
            {
                state[$"network.convs.{i}.weight"].copy_(Get($"{prefix}/Conv2D/ReadVariableOp:0", [o, c, h, w]));
            }
            else
            {
                state[$"network.convs.{i}.weight"].copy_(Get($"{prefix}/Conv2D_weights_fused_bn", [o, c, h, w]));
                state[$"network.convs.{i}.bias"].copy_(Get($"{prefix}/Conv2D_bias_fused_bn", [o]));
            }
        }
    }

    /// <summary>Writes the model's weights in the library's raw-tensor format (what <see cref="Pretrained"/> reads).</summary>
    public static void SaveWeights(SpeechEmbedding model, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        ModelWeights.Save(writer, model);
    }
}

public static partial class AudioLayers
{
    /// <summary>Google's speech embedding model with its pretrained weights (openWakeWord's conversion, Apache-2.0): 16 kHz
    /// audio <c>(batch, samples)</c> → embeddings, pooled or per 80 ms window.</summary>
    /// <param name="pooling">How window embeddings are pooled. Default mean and max (192 values).</param>
    /// <param name="min_samples">Clips shorter than this are padded with silence. Default one window (12,512 samples).</param>
    /// <param name="name">Module name.</param>
    /// <param name="center">Centre a short clip in <paramref name="min_samples"/> (the default) or pad it at its end.</param>
    public static SpeechEmbedding SpeechEmbedding(EmbeddingPooling pooling = EmbeddingPooling.MeanMax, long min_samples = Layers.SpeechEmbedding.WindowSamples,
        string name = "speech_embedding", bool center = true) => Layers.SpeechEmbedding.Pretrained(pooling, min_samples, name, center);
}
