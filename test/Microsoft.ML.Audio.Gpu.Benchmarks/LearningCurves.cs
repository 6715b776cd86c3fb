// Learning curves for docs/transfer-learning.md: accuracy against training clips per class, one line per method, from
// CSV files of measured points (the --transfer runs' figures: label, clips per class, mean accuracy, lowest and highest
// fold, in percent). The x axis is logarithmic: 10, 30, 100 and all clips per class sit evenly.
//
//   dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks -- --learning-curves OUT.png "TITLE" A.csv [B.csv ...]
using System.Globalization;

internal static class LearningCurves
{
    public static int Run(string[] args)
    {
        int at = Array.IndexOf(args, "--learning-curves");
        if (at < 0 || args.Length < at + 4) throw new ArgumentException("--learning-curves OUT.png TITLE A.csv [B.csv ...]");
        string output = args[at + 1], title = args[at + 2];
        var points = args.Skip(at + 3).SelectMany(File.ReadAllLines).Where(l => l.Trim().Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split(','))
            .Select(c => (label: c[0].Trim(), clips: P(c[1]), mean: P(c[2]), low: P(c[3]), high: P(c[4]))).ToList();
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        foreach (var line in points.GroupBy(p => p.label))
        {
            var sorted = line.OrderBy(p => p.clips).ToArray();
            var colour = palette.GetColor(i++);
            var xs = sorted.Select(p => Math.Log10(p.clips)).ToArray();
            var scatter = plot.Add.Scatter(xs, sorted.Select(p => p.mean).ToArray(), colour);
            scatter.LegendText = line.Key;
            scatter.LineWidth = 2;
            scatter.MarkerSize = 7;
            // The folds' range as a vertical bar at each point.
            for (int k = 0; k < sorted.Length; k++)
            {
                var range = plot.Add.Line(xs[k], sorted[k].low, xs[k], sorted[k].high);
                range.Color = colour;
                range.LineWidth = 1.5f;
            }
        }
        double[] ticks = [10, 30, 100, 300];
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.Select(Math.Log10).ToArray(), ticks.Select(t => t.ToString(CultureInfo.InvariantCulture)).ToArray());
        plot.Title(title);
        plot.XLabel("training clips per class (log scale; the last point: every clip, about 190 per class)");
        plot.YLabel("accuracy on speakers never heard (%)");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.SavePng(output, 900, 560);
        Console.WriteLine(Path.GetFullPath(output));
        return 0;
    }

    private static double P(string s) => double.Parse(s.Trim(), CultureInfo.InvariantCulture);
}
