using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Data;

namespace AudioClassification;

/// <summary>One row of the leaderboard: a candidate, its validation (or cross-validated) accuracy, and what it cost.</summary>
/// <param name="Candidate">The configuration.</param>
/// <param name="Accuracy">Accuracy on the validation speakers (or cross-validated); null when it could not run.</param>
/// <param name="Seconds">Time it took, decoding and embedding included.</param>
/// <param name="Epochs">Epochs it ran (0 for a head fitted in one go).</param>
/// <param name="Note">Why it was skipped or stopped, if it was.</param>
public sealed record Trial(Candidate Candidate, double? Accuracy, double Seconds, int Epochs, string? Note = null);

/// <summary>
/// Model Builder's promise for audio: the data chooses the model. Short trials of the candidates that fit the data,
/// scored on speakers held out from training (or by cross-validation when the data is small), a leaderboard, and the
/// rest of the time budget for the winner.
/// </summary>
public static class ModelSelection
{
    /// <summary>Below this many clips in the smallest class, accuracy is estimated by cross-validation (every clip trains
    /// the saved model) instead of a held-out split that would take a quarter of the few clips away.</summary>
    public const int CrossValidationBelowClipsPerClass = 30;

    /// <summary>Folds of the cross-validation.</summary>
    public const int Folds = 5;

    /// <summary>Epochs of a from-scratch network on small data (cross-validation has no validation set to stop on).</summary>
    public const int SmallDataEpochs = 40;

    /// <summary>Share of the time budget that each from-scratch candidate's trial gets.</summary>
    public const double TrialShare = 0.12;

    /// <summary>The pretrained embedding frozen, its head fitted as logistic regression.</summary>
    public static readonly Candidate FrozenEmbedding = new("speech embedding (frozen) + logistic regression", AudioBackbone.SpeechEmbedding);
    /// <summary>The pretrained embedding fine-tuned, starting from the head the frozen embedding fits.</summary>
    public static readonly Candidate FineTunedEmbedding = new("speech embedding (fine-tuned from the fitted head)", AudioBackbone.SpeechEmbedding, FineTune: true);
    /// <summary>The small CNN from scratch.</summary>
    public static readonly Candidate SmallCnn = new("Small CNN", AudioBackbone.Cnn, AudioCnnSize.Small);
    /// <summary>The large CNN from scratch.</summary>
    public static readonly Candidate LargeCnn = new("Large CNN", AudioBackbone.Cnn, AudioCnnSize.Large);
    /// <summary>BC-ResNet-3 from scratch.</summary>
    public static readonly Candidate BcResNet3 = new("BC-ResNet-3", AudioBackbone.BcResNet, BcResNetSize: BcResNetSize.Tau3);

    /// <summary>Whether the data is small enough for cross-validation.</summary>
    public static bool IsSmall(LabelledData data) => data.Files.GroupBy(f => f.Label).Min(g => g.Count()) < CrossValidationBelowClipsPerClass;

    /// <summary>The candidates tried for this data, cheapest first.</summary>
    public static List<Candidate> CandidatesFor(LabelledData data) => IsSmall(data)
        ? [FrozenEmbedding, SmallCnn]
        : [FrozenEmbedding, SmallCnn, BcResNet3];

    /// <summary>
    /// Trains each candidate on <paramref name="train"/> for a short trial and scores it on <paramref name="validation"/>.
    /// From-scratch networks get <see cref="TrialShare"/> of the budget each (a whole cosine schedule in that time); the
    /// frozen embedding takes what embedding the clips costs.
    /// </summary>
    public static List<Trial> RunTrials(List<Candidate> candidates, List<LabelledFile> train, List<LabelledFile> validation, ModelTraining.Settings settings,
        double clipSeconds, TimeSpan budget, TextWriter output, Dictionary<Candidate, ModelTraining.Result> kept)
    {
        var trials = new List<Trial>();
        foreach (var candidate in candidates)
        {
            var watch = Stopwatch.StartNew();
            output.Write($"  {candidate.Name}: ");
            output.Flush();
            var trialBudget = TimeSpan.FromSeconds(budget.TotalSeconds * TrialShare);
            var result = ModelTraining.Train(train, validation, candidate, settings, clipSeconds, settings.Epochs,
                candidate.HasEpochs ? trialBudget : null, TextWriter.Null, showEpochs: false);
            var history = result.Classifier.TrainingHistory;
            double accuracy = history.Max(h => h.ValidationAccuracy ?? 0);
            var trial = new Trial(candidate, accuracy, watch.Elapsed.TotalSeconds, candidate.HasEpochs ? history.Count : 0);
            trials.Add(trial);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"validation accuracy {accuracy:P1} in {trial.Seconds:F0} s{(candidate.HasEpochs ? $" ({history.Count} epochs)" : "")}"));
            // A frozen embedding's trial is already the whole of its training on these files: kept, not run again.
            if (!candidate.HasEpochs) kept[candidate] = result;
            else (result.Model as IDisposable)?.Dispose();
        }
        return trials;
    }

    /// <summary>Cross-validated accuracy of a candidate: each fold trained on the others, its predictions pooled.</summary>
    public static (Trial trial, MulticlassClassificationMetrics metrics) CrossValidate(Candidate candidate, List<(List<LabelledFile> train, List<LabelledFile> test)> folds,
        ModelTraining.Settings settings, double clipSeconds, int epochs, TextWriter output)
    {
        var watch = Stopwatch.StartNew();
        output.Write($"  {candidate.Name}: ");
        output.Flush();
        var ml = new MLContext(settings.Seed);
        var pooled = new List<Prediction>();
        var perFold = new List<double>();
        foreach (var (train, test) in folds)
        {
            var result = ModelTraining.Train(train, null, candidate, settings, clipSeconds, epochs, null, TextWriter.Null, showEpochs: false);
            // Every fold's predictions as the same key type: the class names of the whole data, in sorted order.
            var scored = result.Model.Transform(result.LabelMap.Transform(Dataset.ToDataView(result.Context, test)));
            var rows = Predictions(result.Context, scored, result.Classifier.Labels);
            perFold.Add(rows.Count(r => r.Label == r.Predicted) / (double)rows.Count);
            pooled.AddRange(rows);
            (result.Model as IDisposable)?.Dispose();
            output.Write(".");
            output.Flush();
        }
        var classes = folds.SelectMany(f => f.train.Concat(f.test)).Select(f => f.Label).Distinct().Order(StringComparer.Ordinal).ToArray();
        var metrics = PooledMetrics(ml, pooled, classes);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $" cross-validated accuracy {metrics.MicroAccuracy:P1} (folds {string.Join(", ", perFold.Select(a => a.ToString("P0", CultureInfo.InvariantCulture)))}) in {watch.Elapsed.TotalSeconds:F0} s"));
        return (new Trial(candidate, metrics.MicroAccuracy, watch.Elapsed.TotalSeconds, candidate.HasEpochs ? epochs : 0), metrics);
    }

    private sealed class Prediction
    {
        public string Label { get; set; } = "";
        public string Predicted { get; set; } = "";
        public float[] Score { get; set; } = [];
    }

    private static List<Prediction> Predictions(MLContext ml, IDataView scored, IReadOnlyList<string> classes)
    {
        var rows = new List<Prediction>();
        using var cursor = scored.GetRowCursor([scored.Schema["Label"], scored.Schema["Score"]]);
        var label = cursor.GetGetter<uint>(scored.Schema["Label"]);
        var score = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
        uint key = 0;
        VBuffer<float> s = default;
        while (cursor.MoveNext())
        {
            label(ref key);
            score(ref s);
            var values = s.DenseValues().ToArray();
            int best = Array.IndexOf(values, values.Max());
            rows.Add(new Prediction { Label = key == 0 ? "" : classes[(int)key - 1], Predicted = classes[best], Score = values });
        }
        return rows;
    }

    /// <summary>ML.NET's metrics over pooled predictions (each fold's model knows every class: the folds are stratified).</summary>
    private static MulticlassClassificationMetrics PooledMetrics(MLContext ml, List<Prediction> rows, string[] classes)
    {
        var keyData = ml.Data.LoadFromEnumerable(classes.Select(c => new { Label = c }));
        var view = ml.Data.LoadFromEnumerable(rows.Select(r => new Scored { Label = r.Label, Predicted = r.Predicted, Score = r.Score }),
            SchemaDefinition.Create(typeof(Scored)).With(d => d["Score"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, classes.Length)));
        var keys = ml.Transforms.Conversion.MapValueToKey("Label", "Label", keyData: keyData)
            .Append(ml.Transforms.Conversion.MapValueToKey("PredictedLabel", "Predicted", keyData: keyData));
        return ml.MulticlassClassification.Evaluate(keys.Fit(view).Transform(view), "Label", "Score", "PredictedLabel");
    }

    private sealed class Scored
    {
        public string Label { get; set; } = "";
        public string Predicted { get; set; } = "";
        public float[] Score { get; set; } = [];
    }

    private static SchemaDefinition With(this SchemaDefinition definition, Action<SchemaDefinition> change)
    {
        change(definition);
        return definition;
    }

    /// <summary>The leaderboard as a Markdown table, best first.</summary>
    public static string Leaderboard(IEnumerable<Trial> trials, string accuracyName)
    {
        var text = new StringBuilder();
        text.AppendLine($"| candidate | {accuracyName} | time | epochs |");
        text.AppendLine("| --- | ---: | ---: | ---: |");
        foreach (var t in trials.OrderByDescending(t => t.Accuracy ?? -1))
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {t.Candidate.Name} | {(t.Accuracy is double a ? a.ToString("P1", CultureInfo.InvariantCulture) : "-")} | {t.Seconds:F0} s | {(t.Epochs > 0 ? t.Epochs.ToString(CultureInfo.InvariantCulture) : "-")} |{(t.Note is null ? "" : " " + t.Note)}"));
        return text.ToString();
    }

    /// <summary>The clip length for the data: long enough for 95% of its clips whole (rounded up to 0.1 s), from 1 s to
    /// 3 s. Longer clips are cropped to their loudest stretch of that length.</summary>
    public static double ClipSecondsFor(double[] seconds)
    {
        if (seconds.Length == 0) return 1.0;
        var sorted = seconds.Order().ToArray();
        double p95 = sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(0.95 * sorted.Length) - 1)];
        return Math.Clamp(Math.Ceiling(p95 * 10 - 1e-6) / 10, 1.0, 3.0);
    }
}
