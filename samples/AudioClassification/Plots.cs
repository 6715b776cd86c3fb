using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using ScottPlot;

namespace AudioClassification;

/// <summary>The sample's plots (ScottPlot): the log-mel spectrogram, the training curves and the confusion matrix.</summary>
public static class Plots
{
    public const int SpectrogramWidth = 1000, SpectrogramHeight = 500;
    public const int TrainingWidth = 1200, TrainingHeight = 500;

    /// <summary>
    /// A log-mel spectrogram, <paramref name="values"/> row-major <c>[mels, frames]</c> in dB, as a heatmap: time in seconds
    /// across, the mel bands up (evenly spaced in mels, as computed), labelled with their frequencies in Hz.
    /// </summary>
    public static void Spectrogram(string path, float[] values, int mels, int frames, MelSpectrogramOptions frontEnd, int sampleRate, string title)
        => File.WriteAllBytes(path, SpectrogramPng(values, mels, frames, frontEnd, sampleRate, title));

    /// <summary>The plot of <see cref="Spectrogram"/> as PNG bytes (the web sample sends them without a file).</summary>
    public static byte[] SpectrogramPng(float[] values, int mels, int frames, MelSpectrogramOptions frontEnd, int sampleRate, string title)
    {
        if (values.Length != mels * frames) throw new ArgumentException($"Expected {mels} x {frames} values, got {values.Length}.", nameof(values));
        var plot = NewPlot();
        // Heatmap rows are drawn top down: the highest band first.
        var data = new double[mels, frames];
        for (int m = 0; m < mels; m++)
            for (int t = 0; t < frames; t++)
                data[mels - 1 - m, t] = values[m * frames + t];
        var heatmap = plot.Add.Heatmap(data);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        // Frame t is centred at t * hop / rate seconds (centred frames); band m sits at y = m.
        double hop = (frontEnd.HopLength ?? frontEnd.FftLength / 4) / (double)sampleRate;
        heatmap.Rectangle = new CoordinateRect(-hop / 2, (frames - 0.5) * hop, -0.5, mels - 0.5);
        var bar = plot.Add.ColorBar(heatmap);
        bar.Label = "Level (dB)";

        // The bands' centres are evenly spaced in mels between the edges: y = m is the centre of band m.
        double fMax = frontEnd.MaxFrequency ?? sampleRate / 2.0;
        double melMin = Functional.hz_to_mel(frontEnd.MinFrequency, frontEnd.MelScale);
        double melMax = Functional.hz_to_mel(fMax, frontEnd.MelScale);
        double BandOf(double hz) => (Functional.hz_to_mel(hz, frontEnd.MelScale) - melMin) / (melMax - melMin) * (mels + 1) - 1;
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (double hz in FrequencyTicks(frontEnd.MinFrequency, fMax))
        {
            double y = BandOf(hz);
            if (y >= -0.5 && y <= mels - 0.5) ticks.AddMajor(y, hz.ToString("0", CultureInfo.InvariantCulture));
        }
        plot.Axes.Left.TickGenerator = ticks;

        plot.Title(title);
        plot.XLabel("Time (s)");
        plot.YLabel("Frequency (Hz, mel scale)");
        plot.Axes.Margins(0, 0);
        return plot.GetImageBytes(SpectrogramWidth, SpectrogramHeight, ImageFormat.Png);
    }

    // ScottPlot's default font is the system's default typeface, which on Linux can be a serif one (DejaVu Serif).
    private static readonly string? SansFont = new[] { "Segoe UI", "Helvetica", "Arial", "DejaVu Sans", "Liberation Sans", "Noto Sans" }
        .FirstOrDefault(SkiaSharp.SKFontManager.Default.FontFamilies.Contains);

    private static Plot NewPlot() => Styled(new Plot());

    private static Plot Styled(Plot plot)
    {
        if (SansFont is not null) plot.Font.Set(SansFont);
        return plot;
    }

    private static IEnumerable<double> FrequencyTicks(double min, double max)
    {
        double[] candidates = [0, 100, 250, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000, 6000, 8000, 10000, 12000, 16000, 20000];
        return candidates.Where(f => f >= min && f <= max);
    }

    /// <summary>Training and validation loss and accuracy per epoch, two panels, the kept epoch marked.</summary>
    public static void TrainingHistory(string path, IReadOnlyList<EpochMetrics> history, int selectedEpoch, string title)
    {
        if (history.Count == 0) throw new ArgumentException("The training history is empty.", nameof(history));
        var multiplot = new Multiplot(); // it starts with one plot
        multiplot.AddPlot();
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        Plot loss = Styled(multiplot.GetPlot(0)), accuracy = Styled(multiplot.GetPlot(1));
        double[] epochs = history.Select(h => (double)h.Epoch).ToArray();

        Curve(loss, epochs, history.Select(h => h.Loss), "Training", Colors.C0);
        if (history.All(h => h.ValidationLoss is not null))
            Curve(loss, epochs, history.Select(h => h.ValidationLoss!.Value), "Validation", Colors.C1);
        Curve(accuracy, epochs, history.Select(h => 100 * h.Accuracy), "Training", Colors.C0);
        if (history.All(h => h.ValidationAccuracy is not null))
            Curve(accuracy, epochs, history.Select(h => 100 * h.ValidationAccuracy!.Value), "Validation", Colors.C1);

        foreach (var (plot, name, unit) in new[] { (loss, "Loss", "Cross-entropy loss (nats)"), (accuracy, "Accuracy", "Accuracy (%)") })
        {
            var kept = plot.Add.VerticalLine(selectedEpoch);
            kept.LineColor = Colors.Gray;
            kept.LinePattern = LinePattern.Dashed;
            kept.LegendText = $"Kept epoch {selectedEpoch}";
            plot.Title($"{title}: {name.ToLowerInvariant()}");
            plot.XLabel("Epoch");
            plot.YLabel(unit);
            // Below the panel, where it hides no curve.
            plot.ShowLegend(Edge.Bottom);
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        }
        accuracy.Axes.SetLimitsY(0, 102);
        multiplot.SavePng(path, TrainingWidth, TrainingHeight);
    }

    private static void Curve(Plot plot, double[] epochs, IEnumerable<double> values, string label, Color colour)
    {
        var line = plot.Add.Scatter(epochs, values.ToArray());
        line.LegendText = label;
        line.Color = colour;
        line.LineWidth = 2;
        line.MarkerSize = epochs.Length > 40 ? 0 : 5;
    }

    /// <summary>
    /// The confusion matrix (ML.NET's: rows are the true classes, columns the predicted ones) as a heatmap with the counts
    /// written in the cells.
    /// </summary>
    /// <param name="counts">Square, one row per true class: <see cref="ConfusionMatrix.Counts"/>.</param>
    public static void ConfusionMatrix(string path, IReadOnlyList<IReadOnlyList<double>> counts, IReadOnlyList<string> classNames, string title)
    {
        int n = counts.Count;
        if (n == 0 || counts.Any(row => row.Count != n)) throw new ArgumentException("The confusion matrix must be square and not empty.", nameof(counts));
        if (classNames.Count != n) throw new ArgumentException($"{n} classes in the matrix, {classNames.Count} names.", nameof(classNames));
        var plot = NewPlot();
        // Heatmap rows are drawn top down, so the first class is at the top, as in a table.
        var cells = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                cells[i, j] = counts[i][j];
        var heatmap = plot.Add.Heatmap(cells);
        heatmap.Colormap = new ScottPlot.Colormaps.Blues().Reversed(); // white for 0, dark blue for many
        heatmap.Rectangle = new CoordinateRect(-0.5, n - 0.5, -0.5, n - 0.5);
        var bar = plot.Add.ColorBar(heatmap);
        bar.Label = "Files";
        bar.Axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };

        double max = Math.Max(1, cells.Cast<double>().Max());
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                var text = plot.Add.Text(cells[i, j].ToString("0", CultureInfo.InvariantCulture), j, n - 1 - i);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = n > 20 ? 10 : 16;
                text.LabelFontColor = cells[i, j] > max / 2 ? Colors.White : Colors.Black;
            }

        var x = new ScottPlot.TickGenerators.NumericManual();
        var y = new ScottPlot.TickGenerators.NumericManual();
        for (int i = 0; i < n; i++)
        {
            x.AddMajor(i, classNames[i]);
            y.AddMajor(n - 1 - i, classNames[i]);
        }
        plot.Axes.Bottom.TickGenerator = x;
        plot.Axes.Left.TickGenerator = y;
        plot.Axes.Bottom.TickLabelStyle.FontSize = plot.Axes.Left.TickLabelStyle.FontSize = n > 20 ? 11 : 14;
        if (classNames.Max(c => c.Length) > 6) plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = classNames.Max(c => c.Length) > 6 ? Alignment.MiddleRight : Alignment.UpperCenter;
        plot.Axes.Margins(0, 0);

        plot.Title(title);
        plot.XLabel("Predicted class");
        plot.YLabel("True class");
        int size = Math.Clamp(60 * n + 250, 600, 1600);
        plot.SavePng(path, size + 100, size);
    }

    /// <summary>The class names in key order, from the Label column that <paramref name="labelMap"/> makes.</summary>
    public static string[] ClassNames(ITransformer labelMap, IDataView data)
    {
        VBuffer<ReadOnlyMemory<char>> keys = default;
        labelMap.GetOutputSchema(data.Schema)["Label"].GetKeyValues(ref keys);
        return keys.DenseValues().Select(k => k.ToString()).ToArray();
    }

    /// <summary>
    /// After training: writes <c>MODEL.training.png</c> (the epochs of the run that had validation data, or of the saved
    /// model) and <c>MODEL.confusion.png</c> (held-out or cross-validated) next to the model and prints their paths. The
    /// model is already saved, so a plot that cannot be drawn is reported, not thrown.
    /// </summary>
    public static void AfterTraining(string modelPath, TrainingOutcome outcome, TextWriter output)
    {
        string stem = Path.Combine(Path.GetDirectoryName(modelPath)!, Path.GetFileNameWithoutExtension(modelPath));
        string training = stem + ".training.png", confusion = stem + ".confusion.png";
        try
        {
            WarnIfNoFonts(output);
            if (outcome.Curves.TrainingHistory.Count > 1)
            {
                TrainingHistory(training, outcome.Curves.TrainingHistory, outcome.Curves.SelectedEpoch, Path.GetFileName(modelPath));
                output.WriteLine($"Training curves: {training}");
            }
            ConfusionMatrix(confusion, outcome.Metrics.ConfusionMatrix.Counts, outcome.ClassNames,
                $"{outcome.MetricsTitle} ({Path.GetFileName(modelPath)})");
            output.WriteLine($"Confusion matrix: {confusion}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            output.WriteLine($"  warning: the plots were not written: {e.Message}");
        }
    }

    /// <summary>SkiaSharp (ScottPlot's renderer) on Linux finds fonts under /usr/share/fonts; with none, plots lack text.</summary>
    public static void WarnIfNoFonts(TextWriter output)
    {
        if (SkiaSharp.SKFontManager.Default.FontFamilyCount == 0)
            output.WriteLine("  warning: no fonts found (/usr/share/fonts): the plots will have no text. " +
                             "Install some, e.g. build/install-prerequisites.sh (fonts-dejavu-core).");
    }
}
