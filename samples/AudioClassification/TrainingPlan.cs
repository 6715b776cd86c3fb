using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Data;

namespace AudioClassification;

/// <summary>What <see cref="TrainingPlan.Run"/> produced: the model to save, its figures and the report.</summary>
public sealed class TrainingOutcome
{
    /// <summary>The model to save.</summary>
    public required ModelTraining.Result Saved { get; init; }
    /// <summary>What the saved model is ("the Small CNN refit on all 2,850 files", ...).</summary>
    public required string SavedDescription { get; init; }
    /// <summary>The run whose epochs the training-curve plot shows (trained with validation when there was some).</summary>
    public required AudioClassificationTransformer Curves { get; init; }
    /// <summary>Held-out or cross-validated metrics, and what they are.</summary>
    public required MulticlassClassificationMetrics Metrics { get; init; }
    public required string MetricsTitle { get; init; }
    /// <summary>Class names in key order.</summary>
    public required string[] ClassNames { get; init; }
    /// <summary>Files to show predictions for (the held-out test files, when there are some).</summary>
    public required List<LabelledFile> Examples { get; init; }
    /// <summary>The training report (Markdown).</summary>
    public required string Report { get; init; }
}

/// <summary>
/// How the sample trains on a folder: how accuracy is measured (speakers held out, or cross-validation for small data),
/// which candidates are tried, and what is saved (by default the chosen configuration refit on every file).
/// </summary>
public sealed class TrainingPlan
{
    private readonly LabelledData _data;
    private readonly ModelTraining.Settings _settings;
    private readonly double _clipSeconds;
    private readonly StringBuilder _report = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private TrainingPlan(LabelledData data, ModelTraining.Settings settings, double clipSeconds)
    {
        _data = data;
        _settings = settings;
        _clipSeconds = clipSeconds;
    }

    /// <summary>The report's path next to the model: <c>MODEL.training.md</c>.</summary>
    public static string ReportPath(string modelPath)
        => Path.Combine(Path.GetDirectoryName(modelPath)!, Path.GetFileNameWithoutExtension(modelPath) + ".training.md");

    /// <summary>Plans the training of <paramref name="data"/> (already checked).</summary>
    public static TrainingPlan Make(LabelledData data, ModelTraining.Settings settings, double clipSeconds, TextWriter output)
    {
        var plan = new TrainingPlan(data, settings, clipSeconds);
        plan._report.AppendLine("# Training report");
        plan._report.AppendLine();
        plan._report.AppendLine($"Data: {data.Files.Count} files in {data.Classes.Length} classes ({string.Join(", ", data.Classes)}); " +
            (data.SpeakerSource is null ? "speakers unknown" : $"{data.SpeakerCount} speakers from {data.SpeakerSource}") +
            $"; clips of {clipSeconds.ToString("0.0#", CultureInfo.InvariantCulture)} s.");
        if (data.Unusable.Count > 0)
            plan._report.AppendLine($"Left out {data.Unusable.Count} file(s) that cannot be decoded: " +
                                    string.Join("; ", data.Unusable.Take(20).Select(u => $"`{Path.GetFileName(u.Path)}`: {u.Reason}")) + (data.Unusable.Count > 20 ? "; ..." : "") + ".");
        foreach (var c in data.EmptyClasses) plan._report.AppendLine($"Left out class folder `{c}`: no file in it decodes.");
        return plan;
    }

    private TimeSpan? Left(TimeSpan? budget) => budget is TimeSpan b ? b - _clock.Elapsed : null;

    /// <summary>
    /// The time for fine-tuning a frozen embedding that won its trial, or null for none: only when the data chose (no
    /// --backbone), under a time budget, when the fitted head is below 99% on the validation files, and when
    /// the share of what is left (the refit gets its part) holds about two epochs: an epoch of fine-tuning costs about 1.2
    /// times the frozen trial (which embedded the training and validation files once; measured on 2 cores).
    /// </summary>
    private TimeSpan? FineTuneAfter(Candidate winner, ModelTraining.Result frozen, TimeSpan? budget, double refitScale)
    {
        if (winner != ModelSelection.FrozenEmbedding || _settings.Pinned is not null || Left(budget) is not TimeSpan left) return null;
        // At 99% on the validation files there is little to win, for minutes of fine-tuning.
        if (frozen.Classifier.TrainingHistory.Count == 0 || frozen.Classifier.TrainingHistory[^1].ValidationAccuracy is not double accuracy || accuracy >= 0.99) return null;
        var share = TimeSpan.FromSeconds(left.TotalSeconds / (1 + refitScale));
        return share.TotalSeconds >= 2.5 * frozen.Elapsed.TotalSeconds ? share : null;
    }

    /// <summary>Runs the plan, writing its progress to <paramref name="output"/>.</summary>
    public TrainingOutcome Run(TextWriter output)
        => ModelSelection.IsSmall(_data) ? CrossValidated(output) : HeldOut(output);

    private List<Candidate> Candidates() => _settings.Pinned is Candidate pinned ? [pinned] : ModelSelection.CandidatesFor(_data);

    private static string Budget(TimeSpan? budget) => budget is TimeSpan b ? $"time budget {b.TotalSeconds:F0} s" : "no time budget";

    /// <summary>Enough data: trials on held-out validation speakers, the winner trained and tested on held-out test
    /// speakers, then refit on every file.</summary>
    private TrainingOutcome HeldOut(TextWriter output)
    {
        var split = Dataset.Split(_data, _settings.Seed);
        output.WriteLine(split.Description);
        _report.AppendLine();
        _report.AppendLine(split.Description);
        var budget = _settings.MaxTrainingTime;
        var candidates = Candidates();
        var kept = new Dictionary<Candidate, ModelTraining.Result>();
        Candidate winner;
        if (candidates.Count > 1)
        {
            output.WriteLine($"Choosing the network ({Budget(budget)}): a short trial of each candidate, scored on the validation files:");
            var trials = ModelSelection.RunTrials(candidates, split.Train, split.Validation, _settings, _clipSeconds,
                budget ?? TimeSpan.FromSeconds(ModelTraining.DefaultSeconds), output, kept);
            string board = ModelSelection.Leaderboard(trials, "validation accuracy");
            output.WriteLine();
            output.Write(board);
            _report.AppendLine();
            _report.AppendLine("## Leaderboard (short trials, validation accuracy)");
            _report.AppendLine();
            _report.Append(board);
            if (trials.Any(t => t.Candidate.HasEpochs))
            {
                // A from-scratch network's trial is cut by its share of the budget; say so, or a 1-epoch score reads as the network's.
                double trialSeconds = (budget ?? TimeSpan.FromSeconds(ModelTraining.DefaultSeconds)).TotalSeconds * ModelSelection.TrialShare;
                string share = $"A network trained from scratch gets {ModelSelection.TrialShare.ToString("P0", CultureInfo.InvariantCulture)} of the time budget for its trial " +
                    $"({trialSeconds.ToString("F0", CultureInfo.InvariantCulture)} s): its score is what it reaches in that time, not trained longer; " +
                    "the winner gets the rest of the budget. A larger --time gives the networks longer trials.";
                output.WriteLine(share);
                _report.AppendLine();
                _report.AppendLine(share);
            }
            winner = trials.MaxBy(t => t.Accuracy ?? -1)!.Candidate;
            foreach (var (candidate, result) in kept.Where(k => k.Key != winner)) (result.Model as IDisposable)?.Dispose();
            output.WriteLine($"Chosen: {winner.Name}.");
        }
        else
        {
            winner = candidates[0];
        }

        // The winner: trained on the training speakers, its epoch chosen on the validation speakers, then tested on the
        // test speakers; the refit repeats that many epochs on every file, so it gets the share of the time that its
        // larger data set needs.
        double refitScale = _settings.Refit ? (double)_data.Files.Count / split.Train.Count : 0;
        ModelTraining.Result run;
        if (kept.TryGetValue(winner, out var frozen))
        {
            run = frozen;
            if (FineTuneAfter(winner, frozen, budget, refitScale) is TimeSpan tuneBudget)
            {
                // The frozen embedding won; the rest of the budget fine-tunes it from its fitted head. The fitted head is
                // epoch 0 on the validation files, so fine-tuning is kept only if an epoch of it does better.
                var tuner = ModelSelection.FineTunedEmbedding;
                output.WriteLine($"Fine-tuning: {tuner.Name} on {split.Train.Count} files, about {tuneBudget.TotalSeconds:F0} s, batch {_settings.BatchSize}:");
                var tuned = ModelTraining.Train(split.Train, split.Validation, tuner, _settings, _clipSeconds, _settings.Epochs, tuneBudget, output,
                    headL2: frozen.Classifier.HeadL2Regularization);
                if (tuned.Classifier.SelectedEpoch > 0)
                {
                    (frozen.Model as IDisposable)?.Dispose();
                    (run, winner) = (tuned, tuner);
                }
                else
                {
                    (tuned.Model as IDisposable)?.Dispose();
                    output.WriteLine("  No epoch of fine-tuning beat the fitted head on the validation files: the frozen embedding is kept.");
                }
            }
        }
        else
        {
            var left = Left(budget);
            var runBudget = left is TimeSpan l ? TimeSpan.FromSeconds(Math.Max(l.TotalSeconds, 10) / (1 + refitScale)) : (TimeSpan?)null;
            output.WriteLine($"Training: {winner.Name} on {split.Train.Count} files" +
                             (winner.HasEpochs ? runBudget is TimeSpan r ? $", about {r.TotalSeconds:F0} s (at most {_settings.Epochs} epochs), batch {_settings.BatchSize}"
                                                                       : $", {_settings.Epochs} epochs, batch {_settings.BatchSize}" : "") + ":");
            run = ModelTraining.Train(split.Train, split.Validation, winner, _settings, _clipSeconds, _settings.Epochs, runBudget, output);
        }
        int epochs = run.Classifier.SelectedEpoch;
        output.WriteLine();
        output.WriteLine($"Held-out test set ({split.Test.Count} files{(_data.SpeakerCount >= Dataset.MinSpeakersForSpeakerSplit ? " of speakers not in training" : "")}):");
        var metrics = ModelTraining.Evaluate(run.Context, run.Model, run.LabelMap, Dataset.ToDataView(run.Context, split.Test), output);
        _report.AppendLine();
        _report.AppendLine($"## {winner.Name}: held-out test set");
        _report.AppendLine();
        _report.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Trained on {split.Train.Count} files ({(winner.HasEpochs ? $"epoch {epochs} of {run.Classifier.TrainingHistory.Count} kept on the validation files" : "head fitted in one go")}, " +
            $"{run.Elapsed.TotalSeconds:F0} s); tested on {split.Test.Count} files: accuracy {metrics.MicroAccuracy:P2}, macro accuracy {metrics.MacroAccuracy:P2}, log-loss {metrics.LogLoss:F3}."));
        _report.AppendLine();
        _report.AppendLine("```");
        _report.Append(metrics.ConfusionMatrix.GetFormattedConfusionTable());
        _report.AppendLine("```");

        var saved = run;
        string description = $"the {winner.Name} trained on {split.Train.Count} files (--no-refit)";
        if (_settings.Refit)
        {
            output.WriteLine();
            output.WriteLine($"Refit: the same configuration ({winner.Name}{(winner.HasEpochs ? $", {epochs} epochs" : "")}) on all {_data.Files.Count} files, for the saved model:");
            saved = ModelTraining.Train(_data.Files, null, winner, _settings, _clipSeconds, epochs, null, output, headL2: run.Classifier.HeadL2Regularization);
            description = $"the {winner.Name} refit on all {_data.Files.Count} files ({(winner.HasEpochs ? $"{epochs} epochs, " : "")}the test figures above are the same configuration's without the test files)";
            _report.AppendLine();
            _report.AppendLine($"Saved: {description}.");
        }
        _report.AppendLine();
        _report.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Total training time: {_clock.Elapsed.TotalSeconds:F0} s."));
        return new TrainingOutcome
        {
            Saved = saved, SavedDescription = description, Curves = run.Classifier, Metrics = metrics,
            MetricsTitle = string.Create(CultureInfo.InvariantCulture, $"Held-out test set: accuracy {metrics.MicroAccuracy:P1}"),
            ClassNames = [.. run.Classifier.Labels], Examples = split.Test, Report = _report.ToString(),
        };
    }

    /// <summary>Small data: every file trains the saved model; accuracy is estimated by cross-validation, which also
    /// chooses among the candidates.</summary>
    private TrainingOutcome CrossValidated(TextWriter output)
    {
        int smallest = _data.Files.GroupBy(f => f.Label).Min(g => g.Count());
        int k = Math.Min(ModelSelection.Folds, smallest);
        if (k < 2) throw new InvalidDataException($"Class '{_data.Files.GroupBy(f => f.Label).MinBy(g => g.Count())!.Key}' has 1 file; cross-validation needs at least 2 per class.");
        var (folds, how) = Dataset.Folds(_data, k, _settings.Seed);
        string why = $"Small data ({smallest} files in the smallest class): accuracy is measured by {how}, and every file trains the saved model.";
        output.WriteLine(why);
        _report.AppendLine();
        _report.AppendLine(why);
        int epochs = _settings.MaxTrainingTime is null ? _settings.Epochs : Math.Min(_settings.Epochs, ModelSelection.SmallDataEpochs);
        var candidates = Candidates();
        output.WriteLine(candidates.Count > 1 ? "Choosing the network by cross-validation:" : "Cross-validating:");
        var results = candidates.Select(c => ModelSelection.CrossValidate(c, folds, _settings, _clipSeconds, epochs, output)).ToList();
        var (best, metrics) = results.MaxBy(r => r.trial.Accuracy ?? -1);
        string board = ModelSelection.Leaderboard(results.Select(r => r.trial), "cross-validated accuracy");
        output.WriteLine();
        output.Write(board);
        _report.AppendLine();
        _report.AppendLine("## Leaderboard (cross-validated accuracy)");
        _report.AppendLine();
        _report.Append(board);
        var winner = best.Candidate;
        output.WriteLine();
        output.WriteLine($"Cross-validated accuracy of {winner.Name} ({_data.Files.Count} files, each predicted by the model of the fold that left it out):");
        ModelTraining.Print(metrics, output);
        _report.AppendLine();
        _report.AppendLine("```");
        _report.Append(metrics.ConfusionMatrix.GetFormattedConfusionTable());
        _report.AppendLine("```");
        output.WriteLine($"Training {winner.Name} on all {_data.Files.Count} files{(winner.HasEpochs ? $", {epochs} epochs" : "")}:");
        var saved = ModelTraining.Train(_data.Files, null, winner, _settings, _clipSeconds, epochs, null, output);
        string description = $"the {winner.Name} trained on all {_data.Files.Count} files";
        _report.AppendLine();
        _report.AppendLine($"Saved: {description}.");
        _report.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Total training time: {_clock.Elapsed.TotalSeconds:F0} s."));
        return new TrainingOutcome
        {
            Saved = saved, SavedDescription = description, Curves = saved.Classifier, Metrics = metrics,
            MetricsTitle = string.Create(CultureInfo.InvariantCulture, $"Cross-validated: accuracy {metrics.MicroAccuracy:P1}"),
            ClassNames = [.. saved.Classifier.Labels], Examples = [], Report = _report.ToString(),
        };
    }
}
