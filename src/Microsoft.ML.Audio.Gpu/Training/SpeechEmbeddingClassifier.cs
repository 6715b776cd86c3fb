using TorchSharp.Modules;

namespace Microsoft.ML.Audio.Gpu.Training;

/// <summary>The network the trainer builds on (<see cref="AudioClassificationOptions.Backbone"/>).</summary>
public enum AudioBackbone
{
    // Saved in models: do not change the values.
    /// <summary>A convolutional network trained from scratch (<see cref="AudioCnn"/>, sized by
    /// <see cref="AudioClassificationOptions.NetworkSize"/>), on spectrograms or on raw audio with a front end.</summary>
    Cnn = 0,
    /// <summary>Google's pretrained speech embedding (<see cref="SpeechEmbedding"/>) with a new classifier head, on 16 kHz
    /// mono audio: good models from a few clips per class of speech.</summary>
    SpeechEmbedding = 1,
    /// <summary>BC-ResNet (<see cref="BcResNet"/>, Kim et al. 2021), trained from scratch, sized by
    /// <see cref="AudioClassificationOptions.BcResNetSize"/>: broadcast residual blocks made for keyword spotting (98% on
    /// Speech Commands with 321 k weights in the paper), on spectrograms or on raw audio with a front end.</summary>
    BcResNet = 2,
}

/// <summary>
/// A classifier on the pretrained speech embedding: audio → <see cref="SpeechEmbedding"/> (mean and max of the 80 ms
/// windows' embeddings, 192 values) → head (batch normalisation, dropout, linear) → logits.
/// </summary>
/// <remarks>Input: 16 kHz audio <c>(batch, samples)</c> or <c>(batch, 1, samples)</c>; output: <c>(batch, classes)</c>.</remarks>
public sealed class SpeechEmbeddingClassifier : nn.Module<Tensor, Tensor>
{
    private readonly SpeechEmbedding backbone;
    private readonly Head head;

    /// <summary>The pretrained embedding.</summary>
    public SpeechEmbedding Backbone => backbone;

    internal nn.Module<Tensor, Tensor> Classifier => head;

    /// <summary>Creates the classifier on the pretrained embedding, with a new head.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="classes">Number of classes, at least 2.</param>
    /// <param name="dropout">Dropout before the linear layer, in [0, 1).</param>
    /// <param name="minSamples">Clips shorter than this are padded with silence (at least one window, 12,512 samples).</param>
    /// <param name="center">Centre a shorter clip in <paramref name="minSamples"/> (true) or pad it at its end.</param>
    /// <param name="pooling">How the windows' embeddings are pooled for the head (not <see cref="EmbeddingPooling.None"/>).</param>
    public SpeechEmbeddingClassifier(string name, int classes, double dropout, long minSamples, bool center = true, EmbeddingPooling pooling = EmbeddingPooling.MeanMax) : base(name)
    {
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"classes must be at least 2, got: {classes}");
        if (pooling == EmbeddingPooling.None || !Enum.IsDefined(pooling))
            throw new ArgumentOutOfRangeException(nameof(pooling), pooling, "the head needs one pooled embedding per clip: Mean, Max, MeanMax or MeanMaxStd");
        backbone = SpeechEmbedding.Pretrained(pooling, minSamples, "backbone", center);
        head = new Head("head", backbone.output_size, classes, dropout);
        RegisterComponents();
    }

    /// <summary>Logits for a batch of audio.</summary>
    /// <param name="input">16 kHz audio <c>(batch, samples)</c> or <c>(batch, 1, samples)</c>.</param>
    /// <returns><c>(batch, classes)</c>.</returns>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = NewDisposeScope();
        var audio = input.dim() == 3 && input.shape[1] == 1 ? input.squeeze(1) : input;
        return head.call(backbone.call(audio)).MoveToOuterDisposeScope();
    }

    /// <summary>Added to the variance by the head's normalisation.</summary>
    internal double HeadEpsilon => head.Epsilon;

    /// <summary>Sets the head to a fitted logistic regression: the normalisation standardises with the fitted mean and
    /// variance (unit weight, zero bias), the linear layer holds the fitted weights.</summary>
    internal void SetHead(LogisticHead.Fit fit) => head.Set(fit);

    /// <summary>Embeddings to logits: what is trained when the backbone is frozen.</summary>
    private sealed class Head : nn.Module<Tensor, Tensor>
    {
        private readonly BatchNormalization norm;
        private readonly Dropout drop;
        private readonly Linear linear;

        public Head(string name, long features, int classes, double dropout) : base(name)
        {
            if (!(dropout >= 0 && dropout < 1)) throw new ArgumentOutOfRangeException(nameof(dropout), dropout, $"dropout must be in [0, 1), got: {dropout}");
            norm = AudioLayers.BatchNorm(features);
            drop = nn.Dropout(dropout);
            linear = Lifetimes.Layer(() => nn.Linear(features, classes));
            RegisterComponents();
        }

        public double Epsilon => norm.eps;

        public void Set(LogisticHead.Fit fit)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var state = state_dict();
            var device = state["linear.weight"].device;
            state["norm.running_mean"].copy_(tensor(fit.Mean, device: device));
            state["norm.running_var"].copy_(tensor(fit.Variance, device: device));
            state["norm.weight"].fill_(HeldScalars.One);
            state["norm.bias"].zero_();
            state["linear.weight"].copy_(tensor(fit.Weights, [fit.Biases.Length, fit.Mean.Length], device: device));
            state["linear.bias"].copy_(tensor(fit.Biases, device: device));
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return linear.call(drop.call(norm.call(x))).MoveToOuterDisposeScope();
        }
    }
}
