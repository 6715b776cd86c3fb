using Microsoft.ML.Trainers;

namespace Microsoft.ML.Audio.Gpu.Training;

/// <summary>
/// A frozen backbone's head fitted as multinomial logistic regression on standardised features, to convergence: the
/// features are standardised by their mean and deviation over the training rows, and the weights minimise the mean
/// cross-entropy plus <c>λ · ‖W‖²</c> (L-BFGS, ML.NET's <c>LbfgsMaximumEntropy</c>). On the pooled speech embeddings
/// of a few clips per class this is the classifier the embedding's authors' recipe uses; it takes well under a second.
/// </summary>
internal static class LogisticHead
{
    /// <summary>The λ used when no validation data chooses one: what the speech embedding's few-shot recipe uses.</summary>
    public const double DefaultL2 = 1e-2;

    /// <summary>λ values tried when validation data is given (the one with the best validation accuracy, then loss, wins).</summary>
    public static readonly double[] L2Grid = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1];

    /// <summary>The fitted head: per-feature mean and variance (what a batch normalisation in evaluation mode divides by,
    /// with its epsilon added), and the linear layer's weights <c>(classes, features)</c> and biases.</summary>
    public sealed record Fit(float[] Mean, float[] Variance, float[] Weights, float[] Biases, double L2);

    /// <summary>Fits the head on rows of <paramref name="size"/> features, one per label.</summary>
    /// <param name="env">The host (cancellation).</param>
    /// <param name="features">Row-major features.</param>
    /// <param name="labels">0-based class of each row.</param>
    /// <param name="size">Features per row.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="l2">λ of the penalty on the weights (not the biases), per example.</param>
    /// <param name="epsilon">Added to the variance before the square root, as the batch normalisation that applies it.</param>
    public static Fit Train(IHostEnvironment env, float[] features, long[] labels, int size, int classes, double l2, double epsilon)
    {
        int count = labels.Length;
        var mean = new double[size];
        var variance = new double[size];
        for (int i = 0; i < count; i++)
            for (int j = 0; j < size; j++) mean[j] += features[(long)i * size + j];
        for (int j = 0; j < size; j++) mean[j] /= count;
        for (int i = 0; i < count; i++)
            for (int j = 0; j < size; j++)
            {
                double d = features[(long)i * size + j] - mean[j];
                variance[j] += d * d;
            }
        for (int j = 0; j < size; j++) variance[j] /= count;

        var rows = new float[count][];
        for (int i = 0; i < count; i++)
        {
            rows[i] = new float[size];
            for (int j = 0; j < size; j++)
                rows[i][j] = (float)((features[(long)i * size + j] - mean[j]) / Math.Sqrt(variance[j] + epsilon));
        }
        // A private context for ML.NET's optimiser: on separable data L-BFGS ends on "premature convergence" (its line
        // search can no longer improve an already optimal point), which it logs as a warning the user cannot act on.
        var local = new MLContext(seed: 0);
        var view = new ArrayDataViewBuilder(local);
        view.AddColumn("Features", NumberDataViewType.Single, rows);
        view.AddColumn("Label", (ref VBuffer<ReadOnlyMemory<char>> names) =>
            names = new VBuffer<ReadOnlyMemory<char>>(classes, Enumerable.Range(0, classes).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture).AsMemory()).ToArray()),
            (ulong)classes, labels.Select(l => (uint)(l + 1)).ToArray());
        var data = view.GetDataView();

        // ML.NET minimises (Σ loss + ½ · L2 · ‖w‖²) / rows: L2 = 2 · λ · rows gives the mean loss plus λ · ‖w‖².
        env.CheckAlive();
        var trainer = local.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
        {
            L2Regularization = (float)(2 * l2 * count),
            L1Regularization = 0,
            OptimizationTolerance = 1e-7f,
            HistorySize = 50,
            NumberOfThreads = 1,
            ShowTrainingStatistics = false,
        });
        var model = trainer.Fit(data).Model;
        VBuffer<float>[] weights = [];
        model.GetWeights(ref weights, out int k);
        if (k != classes) throw new InvalidOperationException($"LbfgsMaximumEntropy returned {k} classes' weights for {classes} classes.");
        var w = new float[classes * size];
        for (int c = 0; c < classes; c++) weights[c].CopyTo(w.AsSpan(c * size, size));
        var b = model.GetBiases().ToArray();
        return new Fit([.. mean.Select(v => (float)v)], [.. variance.Select(v => (float)v)], w, b, l2);
    }
}
