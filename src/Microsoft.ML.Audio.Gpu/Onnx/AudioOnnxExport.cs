using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Transforms;
using Microsoft.ML.Model.OnnxConverter;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.Audio.Gpu.Onnx;

/// <summary>How the STFT is written in the ONNX graph.</summary>
public enum OnnxStftForm
{
    /// <summary>A 1-D convolution whose kernels are the windowed DFT basis (cosine and sine rows), stride = hop: runs in
    /// any ONNX runtime (opset 13), and is what ONNX Runtime runs fastest on the CPU for short clips.</summary>
    Convolution = 0,
    /// <summary>The opset 17 <c>STFT</c> operator (ONNX Runtime 1.13 and later).</summary>
    StftOperator = 1,
}

/// <summary>Options of <see cref="AudioOnnxExport"/>.</summary>
public sealed class AudioOnnxExportOptions
{
    /// <summary>How the STFT is written. Default <see cref="OnnxStftForm.Convolution"/>.</summary>
    public OnnxStftForm StftForm { get; set; } = OnnxStftForm.Convolution;
}

/// <summary>
/// Writes a trained audio model as one ONNX file that starts from the decoded samples: the spectrogram front end, the
/// network, the softmax and the class names are in the graph; decoding (<see cref="LoadAudioTransformer"/>'s file reading,
/// resampling, padding and cropping) stays outside it, so an app decodes with <c>AudioDecoder</c> and runs the file with
/// ONNX Runtime alone, without TorchSharp.
/// </summary>
/// <remarks>
/// <para>Exports <c>[LoadAudio] → [MelSpectrogramGpu] → AudioClassification (every backbone: CNN or BC-ResNet with or
/// without its front end, the speech embedding and its head) → [MapKeyToValue]</c>, as nested chains or one. Inputs and
/// outputs keep ML.NET's column names: the audio column <c>float[N, samples]</c>, or <c>float[N, channels, samples]</c>
/// for multi-channel audio (LoadAudio's <c>Mono = false</c>) (N, the batch, is dynamic; samples is fixed: the trainer
/// needs one clip length), the scores <c>float[N, classes]</c>, the predicted label <c>uint32[N]</c> (ML.NET's 1-based
/// key) and, with MapKeyToValue, its class name <c>string[N]</c>.</para>
/// <para>A chain without a classifier exports as a feature extractor: <c>LoadAudio [→ GpuResample] → MelSpectrogramGpu |
/// MfccGpu | SpeechEmbedding | GpuStft [→ GpuMel] [→ GpuDecibel]</c>, each step's column an output
/// <c>float[N, [channels,] rows, frames]</c> of the same name. Without LoadAudio's DurationSeconds the samples axis is
/// dynamic (audio of any length), and so are the frames and windows that follow from it.</para>
/// <para>Anything else fails with a <see cref="NotSupportedException"/> naming the transform and the option, never
/// with a silently different graph.</para>
/// </remarks>
public static class AudioOnnxExport
{
    /// <summary>The opset of the <see cref="OnnxStftForm.Convolution"/> form (every operator used exists since 13).</summary>
    public const int ConvolutionOpset = 13;
    /// <summary>The opset of the <see cref="OnnxStftForm.StftOperator"/> form (<c>STFT</c> is new in 17).</summary>
    public const int StftOperatorOpset = 17;

    /// <summary>Writes <paramref name="model"/> as ONNX to <paramref name="stream"/>.</summary>
    /// <param name="model">A fitted chain: <c>[LoadAudio] → [MelSpectrogramGpu] → AudioClassification → [MapKeyToValue]</c>,
    /// or a feature chain <c>LoadAudio [→ GpuResample] → MelSpectrogramGpu | MfccGpu | SpeechEmbedding | GpuStft [→ GpuMel] [→ GpuDecibel]</c>.</param>
    /// <param name="stream">Where the file goes.</param>
    /// <param name="options">Export options; null for the defaults.</param>
    /// <exception cref="NotSupportedException">A transform or option has no ONNX form (the message names it).</exception>
    public static void Export(ITransformer model, Stream stream, AudioOnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        ToModel(model, options ?? new AudioOnnxExportOptions()).WriteTo(stream);
    }

    /// <summary>Writes <paramref name="model"/> as ONNX to the file <paramref name="path"/>.</summary>
    /// <inheritdoc cref="Export(ITransformer, Stream, AudioOnnxExportOptions?)"/>
    public static void Export(ITransformer model, string path, AudioOnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(model);
        var onnx = ToModel(model, options ?? new AudioOnnxExportOptions()); // before the file is created: a failure leaves none
        using var file = File.Create(path);
        onnx.WriteTo(file);
    }

    /// <summary>
    /// Writes one layer as ONNX: input <c>input: float[N, samples]</c> (or <c>float[N, bins, frames]</c> for a layer
    /// that takes a spectrum), output <c>output</c>. Layers: <see cref="Stft"/> (power or magnitude),
    /// <see cref="MelSpectrogram"/>, <see cref="ApplyFilterbank"/> (mel and others), <see cref="AmplitudeToDecibel"/>,
    /// <see cref="Mfcc"/>, <see cref="Resample"/>.
    /// </summary>
    /// <param name="layer">The layer.</param>
    /// <param name="inputShape">The input's shape without the batch: <c>[samples]</c> or <c>[bins, frames]</c>.</param>
    /// <param name="stream">Where the file goes.</param>
    /// <param name="options">Export options; null for the defaults.</param>
    public static void ExportLayer(nn.Module<Tensor, Tensor> layer, long[] inputShape, Stream stream, AudioOnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(stream);
        options ??= new AudioOnnxExportOptions();
        var g = new OnnxGraph(Opset(options));
        string x = g.Input("input", DataType.Float, [-1, .. inputShape], ["N", .. inputShape.Select(_ => (string?)null)]);
        int rank = layer is MelSpectrogram or Stft or Resample ? 1 : 2;
        if (inputShape.Length != rank || inputShape.Any(d => d <= 0))
            throw new ArgumentException($"ONNX export of {layer.GetType().Name}: inputShape must be {(rank == 1 ? "[samples]" : "[bins, frames]")}, got [{string.Join(", ", inputShape)}].", nameof(inputShape));
        var (y, shape) = layer switch
        {
            MelSpectrogram m => FrontEnd(g, x, m, inputShape, options.StftForm, layer.GetName()),
            Stft s => Spectrum(g, x, s, inputShape, options.StftForm, layer.GetName()),
            Resample r => Resampling(g, x, r, inputShape),
            ApplyFilterbank f => (Filterbank(g, x, f.Filterbank), new[] { f.n_filters, inputShape[1] }),
            Mfcc m => (Filterbank(g, x, m.Dct), new[] { m.n_mfcc, inputShape[1] }),
            AmplitudeToDecibel d => (Decibel(g, x, d, 3), inputShape),
            _ => throw new NotSupportedException($"ONNX export: layer {layer.GetType().Name} has no ONNX form."),
        };
        g.Output(y, "output", DataType.Float, [-1, .. shape], ["N", .. shape.Select(_ => (string?)null)]);
        g.ToModel(typeof(AudioOnnxExport).Assembly.GetName().Version?.ToString() ?? "", $"Kapre.MLNet layer {layer.GetName()}").WriteTo(stream);
    }

    private static int Opset(AudioOnnxExportOptions options) => options.StftForm switch
    {
        OnnxStftForm.Convolution => ConvolutionOpset,
        OnnxStftForm.StftOperator => StftOperatorOpset,
        var f => throw new ArgumentOutOfRangeException(nameof(options), f, $"AudioOnnxExportOptions.StftForm must be Convolution or StftOperator, got: {f}"),
    };

    private static ModelProto ToModel(ITransformer model, AudioOnnxExportOptions options)
    {
        var steps = Flatten(model).ToList();
        if (!steps.Any(s => s is AudioClassificationTransformer)) return FeatureModel(steps, options);
        LoadAudioTransformer? load = null;
        MelSpectrogramGpuTransformer? mel = null;
        AudioClassificationTransformer? classifier = null;
        KeyToValueMappingTransformer? toClassName = null;
        foreach (var step in steps)
        {
            switch (step)
            {
                case LoadAudioTransformer l when load is null && mel is null && classifier is null: load = l; break;
                case MelSpectrogramGpuTransformer m when mel is null && classifier is null: mel = m; break;
                case AudioClassificationTransformer c when classifier is null: classifier = c; break;
                case KeyToValueMappingTransformer k when classifier is not null && toClassName is null: toClassName = k; break;
                // The training label's map (a whole training pipeline fitted in one chain): scoring never reads the label.
                case ValueToKeyMappingTransformer when classifier is null: break;
                default:
                    throw new NotSupportedException($"ONNX export: {step.GetType().Name} has no ONNX form in this place of the chain " +
                        "(exported: [LoadAudio] → [MelSpectrogramGpu] → AudioClassification → [MapKeyToValue]).");
            }
        }
        if (classifier is null) throw new NotSupportedException("ONNX export: the model has no AudioClassification step; the exported chain is [LoadAudio] → [MelSpectrogramGpu] → AudioClassification → [MapKeyToValue].");
        if (load is null) throw new NotSupportedException("ONNX export: the model has no LoadAudio step, which gives the clip length the graph is built for.");
        long[] dims = AudioDims(load);
        if (dims[^1] == Variable)
            throw new NotSupportedException("ONNX export: LoadAudio option DurationSeconds is not set; a classifier's graph needs the fixed clip length it was trained on.");
        var network = classifier.Module;
        var frontEnd = NetworkFrontEnd(network);
        if (mel is not null && (mel.InputColumnName != load.OutputColumnName || classifier.FeatureColumnName != mel.OutputColumnName))
            throw new NotSupportedException($"ONNX export: MelSpectrogramGpu reads '{mel.InputColumnName}' and writes '{mel.OutputColumnName}', but the chain's audio is '{load.OutputColumnName}' and the classifier reads '{classifier.FeatureColumnName}'.");
        if (mel is null && classifier.FeatureColumnName != load.OutputColumnName)
            throw new NotSupportedException($"ONNX export: the classifier reads '{classifier.FeatureColumnName}', not LoadAudio's output '{load.OutputColumnName}'.");
        if (mel is not null && (frontEnd is not null || network is SpeechEmbeddingClassifier))
            throw new NotSupportedException("ONNX export: a spectrogram into a network that takes audio is not a chain the trainer makes.");
        if (mel is null && frontEnd is null && network is not SpeechEmbeddingClassifier)
            throw new NotSupportedException("ONNX export: the classifier reads audio but has no front end, and there is no MelSpectrogramGpu before it.");

        var g = new OnnxGraph(Opset(options));
        string audio = g.Input(load.OutputColumnName, DataType.Float, [-1, .. dims], ["N", .. dims.Select(_ => (string?)null)]);
        var (features, shape) = mel is not null ? FrontEnd(g, audio, mel.Layer, dims, options.StftForm, "MelSpectrogramGpu") : (audio, dims);
        string logits = Logits(g, features, shape, network, options.StftForm, "AudioClassification");
        int classes = classifier.Labels.Count;
        string scores = g.Node("Softmax", [logits], OnnxGraph.Int("axis", 1));
        g.Output(scores, classifier.ScoreColumnName, DataType.Float, [-1, classes], ["N", null]);
        // First maximum on ties, as the transformer's own arg-max.
        string index = g.Node("ArgMax", [scores], OnnxGraph.Int("axis", 1), OnnxGraph.Int("keepdims", 0), OnnxGraph.Int("select_last_index", 0));
        var metadata = DecodingMetadata(load);
        metadata[MetadataKeys.Classes] = JsonSerializer.Serialize(classifier.Labels);
        metadata[MetadataKeys.Score] = classifier.ScoreColumnName;
        string key = g.Node("Cast", [g.Node("Add", [index, g.Int64s("one", [1])])], OnnxGraph.Int("to", (long)DataType.Uint32));
        g.Output(key, classifier.PredictedLabelColumnName, DataType.Uint32, [-1], ["N"]);
        if (toClassName is not null)
        {
            foreach (var (output, input) in toClassName.ColumnPairs)
            {
                if (input != classifier.PredictedLabelColumnName)
                    throw new NotSupportedException($"ONNX export: MapKeyToValue maps '{input}'; only the classifier's '{classifier.PredictedLabelColumnName}' is exported.");
                string name = g.Node("Gather", [g.Strings("class_names", classifier.Labels), index], OnnxGraph.Int("axis", 0));
                g.Output(name, output, DataType.String, [-1], ["N"]);
                metadata[MetadataKeys.PredictedClass] = output;
            }
        }
        return g.ToModel(typeof(AudioOnnxExport).Assembly.GetName().Version?.ToString() ?? "",
            $"Kapre.MLNet audio classifier: {load.OutputColumnName} (float[N, {string.Join(", ", dims)}] at {load.Options.SampleRate} Hz, decoded outside the graph) → " +
            $"{classifier.ScoreColumnName}, {classifier.PredictedLabelColumnName}. Classes: {string.Join(", ", classifier.Labels)}.", metadata);
    }

    /// <summary>A length known only at run time: the samples of a variable-length column and what follows from them
    /// (frames, windows), a dynamic axis of the graph.</summary>
    private const long Variable = -1;

    /// <summary>The shape of LoadAudio's column without the batch: <c>[samples]</c> (mono) or <c>[channels, samples]</c>,
    /// samples <see cref="Variable"/> without DurationSeconds.</summary>
    private static long[] AudioDims(LoadAudioTransformer load)
    {
        var loading = load.Options;
        long samples = loading.FixedLength ?? Variable;
        return loading.Mono ? [samples] : [loading.Channels, samples];
    }

    /// <summary>How to decode for the graph (decoding stays outside it): LoadAudio's settings, read by apps such as the
    /// sample's AudioClassifierOnnxModel. Without DurationSeconds (a feature chain of any length) there is no duration key.</summary>
    private static Dictionary<string, string> DecodingMetadata(LoadAudioTransformer load)
    {
        var loading = load.Options;
        var metadata = new Dictionary<string, string>
        {
            [MetadataKeys.Input] = load.OutputColumnName,
            [MetadataKeys.SampleRate] = loading.SampleRate.ToString(CultureInfo.InvariantCulture),
            [MetadataKeys.Crop] = loading.Crop.ToString(),
            [MetadataKeys.Pad] = loading.Pad.ToString(),
            [MetadataKeys.Mono] = loading.Mono ? "true" : "false",
            [MetadataKeys.Channels] = loading.Channels.ToString(CultureInfo.InvariantCulture),
        };
        if (loading.DurationSeconds is double seconds)
            metadata[MetadataKeys.DurationSeconds] = seconds.ToString("R", CultureInfo.InvariantCulture);
        return metadata;
    }

    private const string FeatureChain = "LoadAudio [→ GpuResample] → MelSpectrogramGpu | MfccGpu | SpeechEmbedding | GpuStft [→ GpuMel] [→ GpuDecibel], each reading an earlier step's column";

    /// <summary>
    /// A feature chain without a classifier: LoadAudio's output is the graph's input, and every later step's column is an
    /// output of the same name and shape <c>(N, rows, frames)</c>.
    /// </summary>
    private static ModelProto FeatureModel(List<ITransformer> steps, AudioOnnxExportOptions options)
    {
        if (steps.Count < 2 || steps[0] is not LoadAudioTransformer load)
            throw new NotSupportedException($"ONNX export: a feature chain starts with LoadAudio, which gives the clip length the graph is built for, and has a step after it: {FeatureChain}.");
        long[] dims = AudioDims(load);
        var g = new OnnxGraph(Opset(options));
        string audio = g.Input(load.OutputColumnName, DataType.Float, [-1, .. dims], DimNames(dims, "samples"));
        // Column name → its value in the graph, its shape without the batch, and whether it is audio (else a spectrum).
        var columns = new Dictionary<string, (string value, long[] shape, bool audio)> { [load.OutputColumnName] = (audio, dims, true) };
        var outputs = new List<string>();
        foreach (var step in steps.Skip(1))
        {
            if (step is not GpuAudioTransformerBase t)
                throw new NotSupportedException($"ONNX export: {step.GetType().Name} has no ONNX form in a feature chain yet ({FeatureChain}).");
            string name = StepName(t);
            if (!columns.TryGetValue(t.InputColumnName, out var input))
                throw new NotSupportedException($"ONNX export: {name} reads '{t.InputColumnName}', which no exported step writes ({FeatureChain}).");
            if (columns.ContainsKey(t.OutputColumnName))
                throw new NotSupportedException($"ONNX export: {name} writes '{t.OutputColumnName}' over an earlier column; give it a new name.");
            if (TakesAudio(t) != input.audio)
                throw new NotSupportedException($"ONNX export: {name} reads '{t.InputColumnName}', {(input.audio ? "audio" : "a spectrum")}, " +
                    $"which it does not take in an exported chain ({FeatureChain}).");
            var (value, shape) = Step(g, t, input.value, input.shape, options.StftForm);
            columns[t.OutputColumnName] = (value, shape, t is GpuResampleTransformer);
            g.Output(value, t.OutputColumnName, DataType.Float, [-1, .. shape], DimNames(shape, t.OutputColumnName + "_length"));
            outputs.Add(t.OutputColumnName);
        }
        return g.ToModel(typeof(AudioOnnxExport).Assembly.GetName().Version?.ToString() ?? "",
            $"Kapre.MLNet audio features: {load.OutputColumnName} (float[N, {string.Join(", ", dims.Select(d => d == Variable ? "samples" : d.ToString(CultureInfo.InvariantCulture)))}] " +
            $"at {load.Options.SampleRate} Hz, decoded outside the graph) → {string.Join(", ", outputs)}.", DecodingMetadata(load));
    }

    /// <summary>The batch axis "N", then a name for the dynamic axis (the last, when <see cref="Variable"/>).</summary>
    private static string?[] DimNames(long[] shape, string variable) => ["N", .. shape.Select(d => d == Variable ? variable : null)];

    private static string StepName(GpuAudioTransformerBase t) => t.GetType().Name.Replace("Transformer", "", StringComparison.Ordinal);

    /// <summary>Whether the step reads audio (else a spectrum).</summary>
    private static bool TakesAudio(GpuAudioTransformerBase t)
        => t is MelSpectrogramGpuTransformer or MfccGpuTransformer or GpuStftTransformer or GpuResampleTransformer or SpeechEmbeddingTransformer;

    /// <summary>One audio transform's ONNX form, on both routes: <paramref name="x"/> <c>(N, ..dims)</c> to its column,
    /// with the shape without the batch.</summary>
    private static (string value, long[] shape) Step(IOnnxEmitter g, GpuAudioTransformerBase t, string x, long[] dims, OnnxStftForm form)
    {
        string name = StepName(t);
        return t switch
        {
            MelSpectrogramGpuTransformer m => FrontEnd(g, x, m.Layer, dims, form, name),
            MfccGpuTransformer m => Cepstra(g, x, m, dims, form, name),
            GpuStftTransformer s => Spectrum(g, x, (Stft)s.Layer, dims, form, name),
            GpuResampleTransformer r => Resampling(g, x, (Resample)r.Layer, dims),
            SpeechEmbeddingTransformer e => SpeechEmbeddingGraph(g, x, e.Embedding, dims, name),
            GpuMelTransformer m => (Filterbank(g, x, ((ApplyFilterbank)m.Layer).Filterbank), [.. dims[..^2], ((ApplyFilterbank)m.Layer).n_filters, dims[^1]]),
            GpuDecibelTransformer d => (Decibel(g, x, (AmplitudeToDecibel)d.Layer, dims.Length + 1), dims),
            _ => throw new NotSupportedException($"ONNX export: {name} has no ONNX form yet ({FeatureChain})."),
        };
    }

    // ML.NET's converter writes opsets 9 to 12; the audio forms need Pad with its pads as an input (11).
    private const int MlNetMinimumOpset = 11, MlNetOpset = 12;

    /// <summary>Whether mlContext.Model.ConvertToOnnx can take <paramref name="t"/>: the stages and fused front ends, on
    /// mono or multi-channel columns of a fixed or variable length (the speech embedding: mono, as the transform).</summary>
    internal static bool CanConvert(GpuAudioTransformerBase t, SignalColumn input)
        => t is MelSpectrogramGpuTransformer or MfccGpuTransformer or GpuStftTransformer or GpuMelTransformer or GpuDecibelTransformer
               or GpuResampleTransformer or SpeechEmbeddingTransformer
           && (t is not SpeechEmbeddingTransformer || input.Channels == 1);

    /// <summary>
    /// Writes <paramref name="t"/>'s layer into ML.NET's ONNX context (mlContext.Model.ConvertToOnnx): the variable of its
    /// input column to a new variable for its output column, the STFT as the DFT-basis convolution.
    /// </summary>
    internal static void Convert(OnnxContext ctx, GpuAudioTransformerBase t, SignalColumn input, DataViewType outputType)
    {
        string name = StepName(t);
        ctx.CheckOpSetVersion(MlNetMinimumOpset, name);
        if (!CanConvert(t, input))
            throw new NotSupportedException($"ONNX export: {name} takes mono audio; '{t.InputColumnName}' has {input.Channels} channels.");
        if (!ctx.ContainsColumn(t.InputColumnName))
            throw new NotSupportedException($"ONNX export: {name} reads '{t.InputColumnName}', which is not in the ONNX graph. Decoding (LoadAudio) " +
                "stays outside ONNX: convert the pipeline that starts from the decoded audio column (fit it on data that holds that column).");
        var g = new MlNetOnnxEmitter(ctx, MlNetOpset);
        // ML.NET declares a vector column as [batch, dims...], or [batch, size] when its size varies: brought to the layer's
        // (N, [channels,] samples) or (N, [channels,] bins, frames).
        long length = input.IsFixedSize ? input.Length : Variable;
        long[] channels = input.HasChannelDimension ? [input.Channels] : [];
        long[] dims = TakesAudio(t) ? [.. channels, length] : [.. channels, input.Bins, length];
        string x = FromMlNet(g, ctx.GetVariableName(t.InputColumnName), dims);
        var (y, _) = Step(g, t, x, dims, OnnxStftForm.Convolution);
        // ML.NET's own ONNX forms (the normalisers' Scaler, Concatenate's FeatureVectorizer) take a vector column as
        // (N, size): the output is flattened to that, as ML.NET holds it, and declared so.
        string flat = g.Node("Flatten", [y], OnnxGraph.Int("axis", 1));
        var type = outputType is VectorDataViewType { IsKnownSize: true } v ? new VectorDataViewType(NumberDataViewType.Single, v.Size) : new VectorDataViewType(NumberDataViewType.Single);
        ctx.CreateNode("Identity", flat, ctx.AddIntermediateVariable(type, t.OutputColumnName), ctx.GetNodeName("Identity"), "");
    }

    /// <summary>ML.NET's variable for a column, reshaped to <c>(N, ..dims)</c> (a <see cref="Variable"/> length inferred).</summary>
    private static string FromMlNet(IOnnxEmitter g, string variable, long[] dims)
        => g.Node("Reshape", [variable, g.Int64s("shape", [0, .. dims.Select(d => d == Variable ? -1 : d)], dims.Length + 1)]);

    /// <summary>Whether mlContext.Model.ConvertToOnnx can take the classifier: every backbone, on the features it was trained on.</summary>
    internal static bool CanConvert(AudioClassificationTransformer c) => c.Module is AudioCnn or BcResNet or SpeechEmbeddingClassifier;

    private static MelSpectrogram? NetworkFrontEnd(nn.Module<Tensor, Tensor> network) => network switch
    {
        AudioCnn cnn => cnn.front_end,
        BcResNet bc => bc.front_end,
        _ => null,
    };

    /// <summary>
    /// Writes the classifier into ML.NET's ONNX context: its feature column's variable (a spectrogram, or audio into its own
    /// front end or the speech embedding) to the score column (softmax) and the predicted-label column (ML.NET's 1-based
    /// key), so that ML.NET's MapKeyToValue after it converts too.
    /// </summary>
    internal static void Convert(OnnxContext ctx, AudioClassificationTransformer c, DataViewType scoreType, DataViewType labelType)
    {
        const string name = "AudioClassification";
        ctx.CheckOpSetVersion(MlNetMinimumOpset, name);
        if (!CanConvert(c))
            throw new NotSupportedException($"ONNX export: {name}'s network {c.Module.GetType().Name} has no ONNX form.");
        if (!ctx.ContainsColumn(c.FeatureColumnName))
            throw new NotSupportedException($"ONNX export: {name} reads '{c.FeatureColumnName}', which is not in the ONNX graph. Decoding (LoadAudio) " +
                "stays outside ONNX: convert the pipeline that starts from the decoded audio column.");
        var g = new MlNetOnnxEmitter(ctx, MlNetOpset);
        long[] dims = [.. c.FeatureDimensions.Select(d => (long)d)];
        string logits = Logits(g, FromMlNet(g, ctx.GetVariableName(c.FeatureColumnName), dims), dims, c.Module, OnnxStftForm.Convolution, name);
        string scores = g.Node("Softmax", [logits], OnnxGraph.Int("axis", 1));
        ctx.CreateNode("Identity", scores, ctx.AddIntermediateVariable(scoreType, c.ScoreColumnName), ctx.GetNodeName("Identity"), "");
        // ArgMax takes the first maximum, as the transformer's own arg-max; ML.NET holds a key column as (N, 1) uint32.
        string index = g.Node("ArgMax", [scores], OnnxGraph.Int("axis", 1), OnnxGraph.Int("keepdims", 1));
        string key = g.Node("Cast", [g.Node("Add", [index, g.Int64s("one", [1])])], OnnxGraph.Int("to", (long)DataType.Uint32));
        ctx.CreateNode("Identity", key, ctx.AddIntermediateVariable(labelType, c.PredictedLabelColumnName), ctx.GetNodeName("Identity"), "");
    }

    /// <summary>
    /// Logits <c>(N, classes)</c> of a trained network in evaluation mode on its features <c>(N, ..dims)</c>: a spectrogram
    /// <c>([channels,] mels, frames)</c>, audio <c>([channels,] samples)</c> into its own front end, or 16 kHz audio into the
    /// speech embedding and its head.
    /// </summary>
    private static string Logits(IOnnxEmitter g, string x, long[] dims, nn.Module<Tensor, Tensor> network, OnnxStftForm form, string owner)
    {
        if (network is SpeechEmbeddingClassifier embedding)
        {
            var (pooled, _) = SpeechEmbeddingGraph(g, x, embedding.Backbone, dims, owner + " (speech embedding)");
            using var scope = NewDisposeScope();
            var (weights, batchNorm) = Reader(g, embedding.Classifier);
            // The head: batch normalisation (running statistics), dropout (the identity at inference), linear.
            return g.Node("Gemm", [batchNorm(pooled, "norm"), weights("linear.weight"), weights("linear.bias")], OnnxGraph.Int("transB", 1));
        }
        var frontEnd = NetworkFrontEnd(network);
        var (spectrogram, shape) = frontEnd is null ? (x, dims) : FrontEnd(g, x, frontEnd, dims, form, owner + " (front end)");
        return network switch
        {
            BcResNet bc => BcResNetGraph(g, spectrogram, shape, bc),
            AudioCnn cnn => Cnn(g, spectrogram, shape, cnn),
            _ => throw new NotSupportedException($"ONNX export: {owner}'s network {network.GetType().Name} has no ONNX form."),
        };
    }

    /// <summary>MfccGpu: its log-mel front end, then the DCT as a MatMul: <c>(N, coefficients, frames)</c>.</summary>
    private static (string value, long[] shape) Cepstra(IOnnxEmitter g, string x, MfccGpuTransformer mfcc, long[] dims, OnnxStftForm form, string owner)
    {
        var (melspec, dct) = mfcc.Layers;
        var (logMel, shape) = FrontEnd(g, x, melspec, dims, form, owner);
        return (Filterbank(g, logMel, dct.Dct), [.. shape[..^2], dct.n_mfcc, shape[^1]]);
    }

    /// <summary>The keys of the exported file's metadata (ONNX <c>metadata_props</c>).</summary>
    public static class MetadataKeys
    {
        /// <summary>Name of the audio input, LoadAudio's output column.</summary>
        public const string Input = "kapre.input";
        /// <summary>Sample rate the audio must be decoded at, in Hz (LoadAudio's SampleRate).</summary>
        public const string SampleRate = "kapre.sample_rate";
        /// <summary>Clip length in seconds that decoding pads or crops to (LoadAudio's DurationSeconds); absent when the graph
        /// takes audio of any length.</summary>
        public const string DurationSeconds = "kapre.duration_seconds";
        /// <summary>Which part of a longer recording is kept (LoadAudio's Crop: a CropAlignment name).</summary>
        public const string Crop = "kapre.crop";
        /// <summary>Where a shorter recording sits in the clip length (LoadAudio's Pad: a PadAlignment name); absent in files
        /// written before it existed, which were padded at the end (Start).</summary>
        public const string Pad = "kapre.pad";
        /// <summary>"true": the input is mono, <c>float[N, samples]</c>; "false": <c>float[N, channels, samples]</c>, every
        /// file with <see cref="Channels"/> channels (LoadAudio's Mono).</summary>
        public const string Mono = "kapre.mono";
        /// <summary>Channels of the input (1 when mono; LoadAudio's ChannelCount).</summary>
        public const string Channels = "kapre.channels";
        /// <summary>Class names in score order, as a JSON array of strings.</summary>
        public const string Classes = "kapre.classes";
        /// <summary>Name of the class-probabilities output.</summary>
        public const string Score = "kapre.score";
        /// <summary>Name of the class-name output (MapKeyToValue's), when the model has one.</summary>
        public const string PredictedClass = "kapre.predicted_class";
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer t)
    {
        if (t is IEnumerable<ITransformer> chain)
        {
            foreach (var inner in chain)
                foreach (var step in Flatten(inner))
                    yield return step;
        }
        else yield return t;
    }

    /// <summary>STFT → power or magnitude → mel → [dB]: <c>(N, [channels,] samples)</c> to <c>(N, [channels,] mels, frames)</c>.</summary>
    private static (string value, long[] shape) FrontEnd(IOnnxEmitter g, string x, MelSpectrogram layer, long[] dims, OnnxStftForm form, string owner)
    {
        var (spectrum, shape) = Spectrum(g, x, layer.stft, dims, form, owner);
        string y = Filterbank(g, spectrum, layer.mel.Filterbank);
        if (layer.db is not null) y = Decibel(g, y, layer.db, shape.Length + 1);
        return (y, [.. shape[..^2], layer.mel.n_filters, shape[^1]]);
    }

    /// <summary>Power or magnitude spectrum <c>(N, [channels,] n_fft / 2 + 1, frames)</c> of <c>(N, [channels,] samples)</c>;
    /// channels ride on the batch axis through the transform, as in the layer.</summary>
    private static (string value, long[] shape) Spectrum(IOnnxEmitter g, string x, Stft stft, long[] dims, OnnxStftForm form, string owner)
    {
        if (stft.output == SpectrumType.Complex)
            throw new NotSupportedException($"ONNX export: {owner} option output = Complex has no real-valued ONNX form; use Power or Magnitude.");
        long n = stft.n_fft, hop = stft.hop_length, bins = n / 2 + 1, samples = dims[^1];
        string rows = FoldChannels(g, x, dims);                                                // (rows, samples)
        var (padded, frames, frameCount) = samples == Variable ? FramingAtRunTime(g, rows, stft) : Framing(g, rows, stft, samples, owner);

        var window = ToDoubles(stft.Window);
        string power;
        if (form == OnnxStftForm.StftOperator)
        {
            // STFT wants (N, samples, 1) and gives (N, frames, bins, 2): square, sum the last axis, move bins before frames.
            string signal = Unsqueeze(g, padded, 2);
            string spec = g.Node("STFT", [signal, g.Int64s("frame_step", [hop]), g.Floats("window", window.Select(v => (float)v).ToArray(), n), g.Int64s("frame_length", [n])],
                OnnxGraph.Int("onesided", 1));
            string squares = g.Node("ReduceSum", [g.Node("Mul", [spec, spec]), g.Int64s("axes", [3], 1)], OnnxGraph.Int("keepdims", 0));
            power = g.Node("Transpose", [squares], OnnxGraph.Ints("perm", 0, 2, 1));
        }
        else
        {
            // Rows 0..bins-1: w[t] cos(2πkt/n); rows bins..2·bins-1: w[t] sin(2πkt/n) (the sign of the imaginary part
            // does not change power or magnitude). Built in float64, stored in float32.
            var basis = new float[2 * bins * n];
            for (long k = 0; k < bins; k++)
                for (long t = 0; t < n; t++)
                {
                    double angle = 2 * Math.PI * ((k * t) % n) / n; // reduced first: exact angles for large k·t
                    basis[k * n + t] = (float)(window[t] * Math.Cos(angle));
                    basis[(bins + k) * n + t] = (float)(window[t] * Math.Sin(angle));
                }
            string signal = Unsqueeze(g, padded, 1);
            string spec = g.Node("Conv", [signal, g.Floats("dft_basis", basis, 2 * bins, 1, n)],
                OnnxGraph.Ints("kernel_shape", n), OnnxGraph.Ints("strides", hop));
            string re = g.Node("Slice", [spec, g.Int64s("starts", [0], 1), g.Int64s("ends", [bins], 1), g.Int64s("axes", [1], 1)]);
            string im = g.Node("Slice", [spec, g.Int64s("starts", [bins], 1), g.Int64s("ends", [2 * bins], 1), g.Int64s("axes", [1], 1)]);
            power = g.Node("Add", [g.Node("Mul", [re, re]), g.Node("Mul", [im, im])]);
        }
        // Where the layer's frame count, ceil(length / hop), is not the convolution's, the first frameCount frames are kept.
        if (frameCount is not null)
            power = g.Node("Slice", [power, g.Int64s("starts", [0], 1), frameCount, g.Int64s("axes", [2], 1)]);
        string result = stft.output == SpectrumType.Magnitude ? g.Node("Sqrt", [power]) : power;
        long[] shape = [.. dims[..^1], bins, frames];
        return (UnfoldChannels(g, result, dims, shape), shape);
    }

    /// <summary>The padding the layer applies to a clip of a known length (centring, or Kapre's conventions), so that frames
    /// of n_fft samples every hop start at 0: the same framing as Functional.stft.</summary>
    private static (string padded, long frames, string? frameCount) Framing(IOnnxEmitter g, string x, Stft stft, long samples, string owner)
    {
        long n = stft.n_fft;
        var (left, right, frames) = Functional.frame_layout(samples, n, stft.hop_length, stft.win_length, stft.padding);
        if (frames < 1)
            throw new NotSupportedException($"ONNX export: {owner}: {samples} samples hold no frame of {stft.win_length} with {stft.padding} framing.");
        if (stft.padding == FramePadding.Center && stft.pad_mode == PadMode.Reflect && samples <= n / 2)
            throw new NotSupportedException($"ONNX export: {owner}: {samples} samples are too few for reflect padding of n_fft / 2 = {n / 2}.");
        string padded = x;
        if (left > 0 || right > 0)
            padded = g.Node("Pad", [x, g.Int64s("pads", [0, left, 0, Math.Max(right, 0)], 4)], OnnxGraph.Text("mode", PadModeOf(stft)));
        if (right < 0)
            padded = g.Node("Slice", [padded, g.Int64s("starts", [0], 1), g.Int64s("ends", [samples + left + right], 1), g.Int64s("axes", [1], 1)]);
        return (padded, frames, null);
    }

    /// <summary>
    /// The same framing for a length known at run time (a dynamic axis): the padding of every framing but Same is a
    /// constant; where the layer's frame count is ceil(length / hop) (PadEnd, PadBeginAndEnd, Same) the end gets n_fft
    /// zeros, enough for that count, and the count, computed in the graph, trims the frames. Same's left padding depends on
    /// the length and is computed in the graph too.
    /// </summary>
    private static (string padded, long frames, string? frameCount) FramingAtRunTime(IOnnxEmitter g, string x, Stft stft)
    {
        long n = stft.n_fft, hop = stft.hop_length, win = stft.win_length;
        long begin = stft.padding is FramePadding.PadBegin or FramePadding.PadBeginAndEnd ? Math.Max(n - hop, 0) : 0;
        string? count = null;
        string pads;
        switch (stft.padding)
        {
            case FramePadding.Center:
                pads = g.Int64s("pads", [0, n / 2, 0, n / 2], 4);
                break;
            case FramePadding.NoCenter:
                return (x, Variable, null);
            case FramePadding.Valid:
            case FramePadding.PadBegin:
                // Frames of win_length: the zeros past the end complete the last one to n_fft (the window is zero there).
                pads = g.Int64s("pads", [0, begin, 0, n - win], 4);
                break;
            case FramePadding.PadEnd:
            case FramePadding.PadBeginAndEnd:
                count = RunTime.Affine(g, RunTime.Dim(g, x, -1), 1, begin + hop - 1, hop);
                pads = g.Int64s("pads", [0, begin, 0, n], 4);
                break;
            default: // Same: ceil(length / hop) frames, max((frames - 1) · hop + win - length, 0) / 2 zeros before.
                string length = RunTime.Dim(g, x, -1);
                count = RunTime.Affine(g, length, 1, hop - 1, hop);
                string spill = g.Node("Sub", [RunTime.Affine(g, count, hop, win - hop, 1), length]);
                string left = g.Node("Div", [g.Node("Max", [spill, g.Int64s("zero", [0], 1)]), g.Int64s("two", [2], 1)]);
                pads = g.Node("Concat", [g.Int64s("zeros", [0], 1), left, g.Int64s("zeros", [0], 1), g.Int64s("end", [n], 1)], OnnxGraph.Int("axis", 0));
                break;
        }
        return (g.Node("Pad", [x, pads], OnnxGraph.Text("mode", PadModeOf(stft))), Variable, count);
    }

    private static string PadModeOf(Stft stft) => stft.padding == FramePadding.Center && stft.pad_mode == PadMode.Reflect ? "reflect" : "constant";

    /// <summary><c>(N, channels, samples)</c> to <c>(N · channels, samples)</c> for the layers that take one signal a row;
    /// mono <c>(N, samples)</c> as it is.</summary>
    private static string FoldChannels(IOnnxEmitter g, string x, long[] dims)
        => dims.Length > 1 ? g.Node("Flatten", [x], OnnxGraph.Int("axis", dims.Length)) : x;

    /// <summary>Back from <see cref="FoldChannels"/> of an input of <paramref name="dims"/>: <c>(N · channels, ..rest)</c>
    /// to <c>(N, ..shape)</c>, a <see cref="Variable"/> last dimension read from <paramref name="y"/>'s last axis.</summary>
    private static string UnfoldChannels(IOnnxEmitter g, string y, long[] dims, long[] shape)
    {
        if (dims.Length == 1) return y;
        if (shape[^1] != Variable) return g.Node("Reshape", [y, g.Int64s("shape", [-1, .. shape], shape.Length + 1)]);
        string[] parts = [g.Int64s("batch", [-1], 1), .. shape[..^1].Select(d => g.Int64s("dim", [d], 1)), RunTime.Dim(g, y, -1)];
        return g.Node("Reshape", [y, g.Node("Concat", parts, OnnxGraph.Int("axis", 0))]);
    }

    /// <summary>
    /// Resample's polyphase form, as Functional's: zeros padded, one strided convolution with the kernel
    /// <c>(new / g, 1, taps)</c> (an initializer), the phases interleaved and the result trimmed: <c>(N, samples)</c> to
    /// <c>(N, ⌈samples · new / orig⌉)</c>.
    /// </summary>
    private static (string value, long[] shape) Resampling(IOnnxEmitter g, string x, Resample layer, long[] dims)
    {
        long samples = dims[^1];
        if (layer.orig_freq == layer.new_freq) return (g.Node("Identity", [x]), dims);
        long gcd = (long)System.Numerics.BigInteger.GreatestCommonDivisor(layer.orig_freq, layer.new_freq);
        long orig = layer.orig_freq / gcd, width = layer.width;
        long target = samples == Variable ? Variable : Functional.resampled_length(samples, layer.orig_freq, layer.new_freq);
        using var scope = NewDisposeScope();
        using var kernel = HostCopy.Of(layer.Kernel, ScalarType.Float32);
        string signal = FoldChannels(g, x, dims);
        string padded = g.Node("Pad", [signal, g.Int64s("pads", [0, width, 0, width + orig], 4)], OnnxGraph.Text("mode", "constant"));
        string phases = g.Node("Conv", [Unsqueeze(g, padded, 1), g.Floats("resample_kernel", kernel.data<float>().ToArray(), kernel.shape)],
            OnnxGraph.Ints("kernel_shape", kernel.shape[2]), OnnxGraph.Ints("strides", orig));     // (N, new / g, blocks)
        string interleaved = g.Node("Reshape", [g.Node("Transpose", [phases], OnnxGraph.Ints("perm", 0, 2, 1)), g.Int64s("flat", [0, -1], 2)]);
        // ceil(samples · new / orig), computed in the graph for a length known at run time.
        string end = target == Variable ? RunTime.Affine(g, RunTime.Dim(g, signal, -1), layer.new_freq / gcd, orig - 1, orig) : g.Int64s("ends", [target], 1);
        string y = g.Node("Slice", [interleaved, g.Int64s("starts", [0], 1), end, g.Int64s("axes", [1], 1)]);
        long[] shape = [.. dims[..^1], target];
        return (UnfoldChannels(g, y, dims, shape), shape);
    }

    /// <summary>
    /// The pretrained speech embedding on <c>(N, samples)</c> 16 kHz audio, as <see cref="SpeechEmbedding"/>'s forward:
    /// silence padded to its minimum length (where the model places a short clip), the front end (the Fourier basis as a convolution, mel, dB, <c>/ 10 + 2</c>),
    /// the 76-frame windows every 8 frames gathered by a constant index, the 20 convolutions, then the pooling:
    /// <c>(N, 192)</c>, <c>(N, 96)</c>, or <c>(N, 96, windows)</c> without pooling (laid out as the transform's column).
    /// </summary>
    private static (string value, long[] shape) SpeechEmbeddingGraph(IOnnxEmitter g, string x, SpeechEmbedding model, long[] dims, string owner)
    {
        if (dims.Length != 1)
            throw new NotSupportedException($"ONNX export: {owner} takes mono 16 kHz audio (N, samples), not [{string.Join(", ", dims)}] per row.");
        using var scope = NewDisposeScope();
        long samples = dims[0];
        if (samples == Variable)
        {
            // max(min_samples - samples, 0) zeros, computed in the graph: all after the clip, or half before it (rounded
            // down) when the model centres it, as SpeechEmbedding.padding.
            string shortBy = g.Node("Max", [g.Node("Sub", [g.Int64s("min_samples", [model.min_samples], 1), RunTime.Dim(g, x, -1)]), g.Int64s("zero", [0], 1)]);
            string before = model.center ? RunTime.Affine(g, shortBy, 1, 0, 2) : g.Int64s("zero", [0], 1);
            string after = model.center ? g.Node("Sub", [shortBy, before]) : shortBy;
            string pads = g.Node("Concat", [g.Int64s("zero", [0], 1), before, g.Int64s("zero", [0], 1), after], OnnxGraph.Int("axis", 0));
            x = g.Node("Pad", [x, pads], OnnxGraph.Text("mode", "constant"));
        }
        else if (model.padding(samples) is (long padBefore, long padAfter) && padBefore + padAfter > 0)
            x = g.Node("Pad", [x, g.Int64s("pads", [0, padBefore, 0, padAfter], 4)], OnnxGraph.Text("mode", "constant"));
        var frontEnd = model.FrontEnd;
        string scaled = g.Node("Mul", [x, g.Scalar("int16_scale", 32768f)]);
        using var basis = HostCopy.Of(frontEnd.Stft.Kernel, ScalarType.Float32);
        long bins = basis.shape[0] / 2;
        string spec = g.Node("Conv", [Unsqueeze(g, scaled, 1), g.Floats("dft_basis", basis.data<float>().ToArray(), basis.shape)],
            OnnxGraph.Ints("kernel_shape", basis.shape[2]), OnnxGraph.Ints("strides", frontEnd.Stft.hop_length));
        string re = g.Node("Slice", [spec, g.Int64s("starts", [0], 1), g.Int64s("ends", [bins], 1), g.Int64s("axes", [1], 1)]);
        string im = g.Node("Slice", [spec, g.Int64s("starts", [bins], 1), g.Int64s("ends", [2 * bins], 1), g.Int64s("axes", [1], 1)]);
        string power = g.Node("Add", [g.Node("Mul", [re, re]), g.Node("Mul", [im, im])]);
        string db = Decibel(g, Filterbank(g, power, frontEnd.Mel.Filterbank), frontEnd.Decibel, 3);
        string features = g.Node("Add", [g.Node("Div", [db, g.Scalar("ten", 10f)]), g.Scalar("two", 2f)]);   // (N, 32, frames)
        string frames = g.Node("Transpose", [features], OnnxGraph.Ints("perm", 0, 2, 1));                   // (N, frames, 32)

        const int window = SpeechEmbeddingNetwork.WindowFrames, step = SpeechEmbedding.WindowStep, mels = SpeechEmbeddingFrontEnd.MelBinCount;
        long count = samples == Variable ? Variable : model.window_count(samples);
        string index, windowCount;
        if (count == Variable)
        {
            // (frames - 76) / 8 + 1 windows; frame f of window w is w · 8 + f: Range(0, W) · 8 + Range(0, 76).
            windowCount = RunTime.Affine(g, RunTime.Dim(g, frames, 1), 1, step - window, step);
            string starts = g.Node("Mul", [g.Node("Range", [g.Int64s("zero", [0]), Squeeze(g, windowCount, 0), g.Int64s("one", [1])]), g.Int64s("step", [step])]);
            index = g.Node("Add", [Unsqueeze(g, starts, 1), g.Int64s("window_offsets", [.. Enumerable.Range(0, window).Select(f => (long)f)], 1, window)]);
        }
        else
        {
            var constant = new long[count * window];
            for (long w = 0; w < count; w++)
                for (long f = 0; f < window; f++) constant[w * window + f] = w * step + f;
            index = g.Int64s("window_frames", constant, count, window);
            windowCount = g.Int64s("windows", [count], 1);
        }
        string windows = g.Node("Gather", [frames, index], OnnxGraph.Int("axis", 1));                                        // (N, W, 76, 32)
        string y = Unsqueeze(g, g.Node("Reshape", [windows, g.Int64s("windows_shape", [-1, window, mels], 3)]), 1);            // (N·W, 1, 76, 32)

        var network = model.Network;
        var (weights, _) = Reader(g, network);
        var convolutions = SpeechEmbeddingNetwork.Convolutions;
        for (int i = 0; i < convolutions.Length; i++)
        {
            var (_, _, h, w, pad) = convolutions[i];
            bool last = i == convolutions.Length - 1;
            string[] inputs = last ? [y, weights($"convs.{i}.weight")] : [y, weights($"convs.{i}.weight"), weights($"convs.{i}.bias")];
            y = g.Node("Conv", inputs, OnnxGraph.Ints("kernel_shape", h, w), OnnxGraph.Ints("pads", 0, pad, 0, pad));
            if (last) break;
            y = g.Node("Max", [g.Node("LeakyRelu", [y], OnnxGraph.Float("alpha", 0.2f)), g.Scalar("floor", -0.4f)]);
            if (SpeechEmbeddingNetwork.PoolAfter(i) is (long ph, long pw))
                y = g.Node("MaxPool", [y], OnnxGraph.Ints("kernel_shape", ph, pw), OnnxGraph.Ints("strides", ph, pw));
        }
        const int size = SpeechEmbeddingNetwork.EmbeddingSize;
        string embeddingsShape = g.Node("Concat", [g.Int64s("batch", [-1], 1), windowCount, g.Int64s("size", [size], 1)], OnnxGraph.Int("axis", 0));
        string embeddings = g.Node("Reshape", [y, embeddingsShape]);                                                       // (N, W, 96)
        string Mean() => g.Node("ReduceMean", [embeddings], OnnxGraph.Ints("axes", 1), OnnxGraph.Int("keepdims", 0));
        string Maximum() => g.Node("ReduceMax", [embeddings], OnnxGraph.Ints("axes", 1), OnnxGraph.Int("keepdims", 0));
        // The population deviation, sqrt(mean((x - mean)²)), as the layer computes it (ReduceMean keeps its axes attribute
        // up to opset 17, which is as far as the export goes).
        string Deviation()
        {
            string centred = g.Node("Sub", [embeddings, g.Node("ReduceMean", [embeddings], OnnxGraph.Ints("axes", 1), OnnxGraph.Int("keepdims", 1))]);
            return g.Node("Sqrt", [g.Node("ReduceMean", [g.Node("Mul", [centred, centred])], OnnxGraph.Ints("axes", 1), OnnxGraph.Int("keepdims", 0))]);
        }
        return model.pooling switch
        {
            EmbeddingPooling.Mean => (Mean(), [size]),
            EmbeddingPooling.Max => (Maximum(), [size]),
            EmbeddingPooling.MeanMax => (g.Node("Concat", [Mean(), Maximum()], OnnxGraph.Int("axis", 1)), [2 * size]),
            EmbeddingPooling.MeanMaxStd => (g.Node("Concat", [Mean(), Maximum(), Deviation()], OnnxGraph.Int("axis", 1)), [3 * size]),
            _ => (g.Node("Transpose", [embeddings], OnnxGraph.Ints("perm", 0, 2, 1)), [size, count]),
        };
    }

    /// <summary>Unsqueeze of one axis: the axes an input from opset 13, an attribute before (ML.NET's converter writes 9-12).</summary>
    private static string Unsqueeze(IOnnxEmitter g, string x, long axis)
        => g.Opset >= 13 ? g.Node("Unsqueeze", [x, g.Int64s("axes", [axis], 1)]) : g.Node("Unsqueeze", [x], OnnxGraph.Ints("axes", axis));

    /// <summary>Squeeze of one axis, written as <see cref="Unsqueeze"/>.</summary>
    private static string Squeeze(IOnnxEmitter g, string x, long axis)
        => g.Opset >= 13 ? g.Node("Squeeze", [x, g.Int64s("axes", [axis], 1)]) : g.Node("Squeeze", [x], OnnxGraph.Ints("axes", axis));

    /// <summary><c>(N, bins, frames)</c> to <c>(N, filters, frames)</c>: MatMul with the transposed filterbank (the dense
    /// product the banded one equals).</summary>
    private static string Filterbank(IOnnxEmitter g, string x, Tensor filterbank)
    {
        using var scope = NewDisposeScope();
        using var fb = HostCopy.Of(filterbank.t(), ScalarType.Float32);
        long filters = fb.shape[0], bins = fb.shape[1];
        return g.Node("MatMul", [g.Floats("filterbank", fb.data<float>().ToArray(), filters, bins), x]);
    }

    /// <summary>Functional.amplitude_to_DB on <c>(N, [channels,] bins, frames)</c> (<paramref name="rank"/> axes): each
    /// example clamped against its own maximum.</summary>
    private static string Decibel(IOnnxEmitter g, string x, AmplitudeToDecibel db, int rank)
    {
        double multiplier = db.multiplier;
        string floored = g.Node("Max", [x, g.Scalar("amin", (float)db.amin)]);
        string scaled = g.Node("Mul", [g.Node("Log", [floored]), g.Scalar("db_scale", (float)(multiplier / Math.Log(10)))]);
        string y = g.Node("Sub", [scaled, g.Scalar("db_offset", (float)(multiplier * Math.Log10(Math.Max(db.amin, db.reference))))]);
        if (db.top_db is double range)
        {
            // Each example's peak over all its channels, rows and frames, as the layer.
            string peak = g.Node("ReduceMax", [y], OnnxGraph.Ints("axes", [.. Enumerable.Range(1, rank - 1).Select(a => (long)a)]), OnnxGraph.Int("keepdims", 1));
            y = g.Node("Max", [y, g.Node("Sub", [peak, g.Scalar("top_db", (float)range)])]);
        }
        return y;
    }

    /// <summary>AudioCnn after its front end, in evaluation mode: logits <c>(N, classes)</c> of <c>(N, [channels,] mels, frames)</c>.
    /// SpecAugment and dropout are the identity at inference and have no node.</summary>
    private static string Cnn(IOnnxEmitter g, string x, long[] shape, AudioCnn cnn)
    {
        using var scope = NewDisposeScope();
        var state = cnn.state_dict();
        var (Weights, BatchNorm) = Reader(g, cnn);
        long height = shape[^2], width = shape[^1];
        string y = BatchNorm(shape.Length == 2 ? Unsqueeze(g, x, 1) : x, "input_norm");
        for (int b = 0; state.ContainsKey($"blocks.{b}.conv1.weight"); b++)
        {
            foreach (var (conv, bn) in new[] { ("conv1", "bn1"), ("conv2", "bn2") })
            {
                string c = g.Node("Conv", [y, Weights($"blocks.{b}.{conv}.weight")],
                    OnnxGraph.Ints("kernel_shape", 3, 3), OnnxGraph.Ints("pads", 1, 1, 1, 1));
                y = g.Node("Relu", [BatchNorm(c, $"blocks.{b}.{bn}")]);
            }
            // As ConvBlock: 2×2 max-pooling, skipped along an axis already down to 1 (the shapes are fixed here).
            long kh = height >= 2 ? 2 : 1, kw = width >= 2 ? 2 : 1;
            if (kh > 1 || kw > 1)
            {
                y = g.Node("MaxPool", [y], OnnxGraph.Ints("kernel_shape", kh, kw), OnnxGraph.Ints("strides", kh, kw));
                height /= kh;
                width /= kw;
            }
        }
        string pooled = g.Node("ReduceMean", [y], OnnxGraph.Ints("axes", 2, 3), OnnxGraph.Int("keepdims", 0));
        return g.Node("Gemm", [pooled, Weights("head.weight"), Weights("head.bias")], OnnxGraph.Int("transB", 1));
    }

    /// <summary>BcResNet after its front end, in evaluation mode: logits <c>(N, classes)</c> of <c>(N, [channels,] mels, frames)</c>.
    /// The convolution settings are BcResNet's (its constructor), the weights its state dictionary's.</summary>
    private static string BcResNetGraph(IOnnxEmitter g, string x, long[] shape, BcResNet net)
    {
        using var scope = NewDisposeScope();
        var (weights, batchNorm) = Reader(g, net);
        string Conv(string input, string name, long[] kernel, long[] stride, long[] pads, long dilation = 1, long groups = 1)
            => g.Node("Conv", [input, weights(name + ".weight")], OnnxGraph.Ints("kernel_shape", kernel), OnnxGraph.Ints("strides", stride),
                OnnxGraph.Ints("pads", pads[0], pads[1], pads[0], pads[1]), OnnxGraph.Ints("dilations", 1, dilation), OnnxGraph.Int("group", groups));
        string Relu(string input) => g.Node("Relu", [input]);
        var state = net.state_dict();
        long Channels(string name) => state[name + ".weight"].shape[0];

        long mels = shape[^2];
        string y = batchNorm(shape.Length == 2 ? Unsqueeze(g, x, 1) : x, "input_norm");
        long padded = BcResNet.PaddedMels(mels);
        if (padded > mels) // zeros above the top mel, as the network's forward
            y = g.Node("Pad", [y, g.Int64s("pads", [0, 0, 0, 0, 0, 0, padded - mels, 0], 8)], OnnxGraph.Text("mode", "constant"));
        long f = padded;
        y = Relu(batchNorm(Conv(y, "stem_conv", [5, 5], [2, 1], [2, 2]), "stem_norm"));
        f = (f + 4 - 5) / 2 + 1;
        // Stages of 2, 2, 4 and 4 blocks, temporal dilation 1, 2, 4, 8; a block with a transition conv changes the
        // channels, and the first of the second and third stage also strides frequency (BcResNet's StageBlocks/StageStride).
        int[] stageBlocks = [2, 2, 4, 4];
        bool[] stageStride = [false, true, true, false];
        int block = 0;
        for (int stage = 0; stage < stageBlocks.Length; stage++)
            for (int i = 0; i < stageBlocks[stage]; i++, block++)
            {
                string p = $"blocks.{block}.";
                long stride = stageStride[stage] && i == 0 ? 2 : 1, dilation = 1L << stage;
                bool transition = state.ContainsKey(p + "transition_conv.weight");
                string shortcut = y;
                if (transition) y = Relu(batchNorm(Conv(y, p + "transition_conv", [1, 1], [1, 1], [0, 0]), p + "transition_norm"));
                long c = Channels(p + "frequency_conv");
                string f2 = Conv(y, p + "frequency_conv", [3, 1], [stride, 1], [1, 0], groups: c);
                f = (f + 2 - 3) / stride + 1;
                // SubSpectralNorm: (N, C, F, T) viewed as (N, C·S, F/S, T), batch-normalised, viewed back.
                string bands = g.Node("Reshape", [f2, g.Int64s("shape", [0, c * BcResNet.SubBands, f / BcResNet.SubBands, -1], 4)]);
                f2 = g.Node("Reshape", [batchNorm(bands, p + "frequency_norm.norm"), g.Int64s("shape", [0, c, f, -1], 4)]);
                string f1 = g.Node("ReduceMean", [f2], OnnxGraph.Ints("axes", 2), OnnxGraph.Int("keepdims", 1));
                f1 = batchNorm(Conv(f1, p + "temporal_conv", [1, 3], [1, 1], [0, dilation], dilation, c), p + "temporal_norm");
                f1 = g.Node("Mul", [f1, g.Node("Sigmoid", [f1])]); // SiLU
                f1 = Conv(f1, p + "pointwise_conv", [1, 1], [1, 1], [0, 0]);
                y = g.Node("Add", [f2, f1]); // broadcast over frequency
                if (!transition) y = g.Node("Add", [y, shortcut]);
                y = Relu(y);
            }
        long width = Channels("head_depthwise");
        y = Conv(y, "head_depthwise", [5, 5], [1, 1], [0, 2], groups: width);
        y = Relu(batchNorm(Conv(y, "head_pointwise", [1, 1], [1, 1], [0, 0]), "head_norm"));
        string pooled = g.Node("ReduceMean", [y], OnnxGraph.Ints("axes", 2, 3), OnnxGraph.Int("keepdims", 0));
        return g.Node("Gemm", [pooled, weights("classifier.weight"), weights("classifier.bias")], OnnxGraph.Int("transB", 1));
    }

    /// <summary>Initializers from a network's state dictionary, and BatchNormalization nodes from its batch-norm layers
    /// (running statistics: evaluation mode).</summary>
    private static (Func<string, string> weights, Func<string, string, string> batchNorm) Reader(IOnnxEmitter g, nn.Module network)
    {
        var state = network.state_dict();
        var modules = network.named_modules().ToDictionary(m => m.name, m => m.module);
        string Weights(string name)
        {
            var t = state.TryGetValue(name, out var v) ? v : throw new InvalidOperationException($"ONNX export: the network has no weight '{name}'.");
            using var host = HostCopy.Of(t, ScalarType.Float32);
            return g.Floats(name.Replace('.', '_'), host.data<float>().ToArray(), host.shape);
        }
        string BatchNorm(string input, string name)
        {
            var bn = (BatchNormalization)modules[name];
            return g.Node("BatchNormalization",
                [input, Weights(name + ".weight"), Weights(name + ".bias"), Weights(name + ".running_mean"), Weights(name + ".running_var")],
                OnnxGraph.Float("epsilon", (float)bn.eps));
        }
        return (Weights, BatchNorm);
    }

    private static double[] ToDoubles(Tensor t)
    {
        using var host = HostCopy.Of(t, ScalarType.Float64);
        return host.data<double>().ToArray();
    }
}
