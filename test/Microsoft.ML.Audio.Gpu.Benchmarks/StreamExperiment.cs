// How the streaming classifier's smoothing, thresholds and voice-activity gate were chosen (docs/streaming.md): long
// recordings with words at known places are scored once per gate setting, every window's class probabilities kept; the
// detection rule is then replayed for a grid of settings, and each is scored as the anchors' score_stream.py scores
// `listen`: a detection counts when it overlaps an unmatched word of its label, any other word detection is a false
// alarm. Writes a CSV of every setting and a plot of recall against false alarms per minute.
//
//   dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks -- --stream-sweep --model M.zip
//       --stream A.wav:A.truth.tsv[:MODEL.zip] [--stream ...] [--out-dir DIR]
//
// A stream's own model (third field) replaces --model for it: with speaker folds, each fold's recording is scored by the
// model trained without that fold's speakers.
// A truth file has one line per word: start and end in seconds and the label, tab-separated (make_stream.py's format).
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Training;

internal static class StreamExperiment
{
    private sealed record Word(double Start, double End, string Label);

    private sealed record Recording(string Name, float[] Audio, List<Word> Truth, string Model);

    private sealed record Scores(List<(long start, float[] raw)> Windows, double ComputeSeconds, double WallSeconds, long Scored, long Skipped);

    public static int Run(string[] args)
    {
        string? modelPath = null, outDir = null;
        var streams = new List<(string wav, string truth, string? model)>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--stream-sweep") continue;
            else if (args[i] == "--model") modelPath = args[++i];
            else if (args[i] == "--out-dir") outDir = args[++i];
            else if (args[i] == "--stream") { var p = args[++i].Split(':'); streams.Add((p[0], p[1], p.Length > 2 ? p[2] : null)); }
            else throw new ArgumentException($"unknown argument '{args[i]}'");
        }
        if (streams.Count == 0 || (modelPath is null && streams.Any(s => s.model is null))) throw new ArgumentException("--model M.zip and at least one --stream WAV:TRUTH[:MODEL]");
        outDir ??= ".";
        Directory.CreateDirectory(outDir);

        var recordings = streams.Select(s => new Recording(Path.GetFileNameWithoutExtension(s.wav),
            AudioDecoder.Decode(s.wav, new AudioDecodeOptions { SampleRate = 16000 }).Samples,
            File.ReadAllLines(s.truth).Where(l => l.Trim().Length > 0).Select(l => l.Split('\t'))
                .Select(c => new Word(double.Parse(c[0], CultureInfo.InvariantCulture), double.Parse(c[1], CultureInfo.InvariantCulture), c[2])).ToList(),
            s.model ?? modelPath!)).ToList();
        double minutes = recordings.Sum(r => r.Audio.Length / 16000.0) / 60;
        int words = recordings.Sum(r => r.Truth.Count);
        Console.WriteLine($"{recordings.Count} recording(s), {minutes * 60:F0} s, {words} words; model(s) {string.Join(", ", recordings.Select(r => r.Model).Distinct())}.");

        var ml = new MLContext(1);
        var models = recordings.Select(r => r.Model).Distinct().ToDictionary(m => m, m => ml.Model.Load(m, out _));
        var model = models[recordings[0].Model];
        var csv = new StringBuilder("gate,smoothing,threshold,release,recall,false_alarms_per_minute,delay_median_s,delay_p95_s\n");
        var curves = new Dictionary<string, List<(double fa, double recall, double threshold)>>();
        foreach (bool gate in new[] { true, false })
        {
            var probe = new StreamingAudioClassifier(ml, model, new StreamingClassifierOptions { VoiceActivityGate = gate ? new() : null });
            var (window, hop) = probe.Geometry;
            var background = probe.BackgroundClasses;
            var classNames = probe.ClassNames.ToArray();
            probe.Dispose();
            var scores = recordings.Select(r => Score(ml, models[r.Model], r, gate)).ToList();
            double compute = scores.Sum(s => s.ComputeSeconds), wall = scores.Sum(s => s.WallSeconds);
            Console.WriteLine($"gate {(gate ? "on" : "off")}: scored {scores.Sum(s => s.Scored)} windows, passed over {scores.Sum(s => s.Skipped)}; " +
                              $"scoring {compute:F1} s, whole run {wall:F1} s for {minutes * 60:F0} s of audio ({minutes * 60 / wall:F0}x real time).");
            foreach (int smoothing in new[] { 1, 2, 3, 4 })
                foreach (double threshold in Enumerable.Range(6, 14).Select(k => k * 0.05))
                    foreach (double releaseRatio in new[] { 0.5, 0.75 })
                    {
                        var options = new StreamingClassifierOptions { SmoothingWindows = smoothing, Threshold = threshold, ReleaseThreshold = threshold * releaseRatio };
                        int hits = 0, alarms = 0;
                        var delays = new List<double>();
                        for (int r = 0; r < recordings.Count; r++)
                        {
                            var tracker = new DetectionTracker(options, background, window, hop);
                            var used = new HashSet<int>();
                            void Judge(DetectionTracker.Span d, long emittedAt)
                            {
                                if (background[d.Label]) return;
                                double s = d.Start / 16000.0, e = Math.Min(d.End, recordings[r].Audio.Length) / 16000.0;
                                var truth = recordings[r].Truth;
                                int k = Enumerable.Range(0, truth.Count).FirstOrDefault(i => !used.Contains(i) && truth[i].Label == classNames[d.Label] && s < truth[i].End && e > truth[i].Start, -1);
                                if (k < 0) { alarms++; return; }
                                used.Add(k);
                                hits++;
                                delays.Add(emittedAt / 16000.0 - truth[k].End);
                            }
                            foreach (var (start, raw) in scores[r].Windows)
                                if (tracker.Add(start, raw) is { } closed) Judge(closed, start + window);
                            if (tracker.Close() is { } last) Judge(last, recordings[r].Audio.Length);
                        }
                        delays.Sort();
                        double recall = (double)hits / words, fa = alarms / minutes;
                        double median = delays.Count > 0 ? delays[delays.Count / 2] : double.NaN, p95 = delays.Count > 0 ? delays[Math.Min(delays.Count - 1, (int)Math.Ceiling(0.95 * delays.Count) - 1)] : double.NaN;
                        csv.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{(gate ? "on" : "off")},{smoothing},{threshold:F2},{threshold * releaseRatio:F3},{recall:F4},{fa:F3},{median:F3},{p95:F3}"));
                        string key = $"gate {(gate ? "on" : "off")}, smoothing {smoothing}, release {releaseRatio:0.##}×threshold";
                        if (!curves.TryGetValue(key, out var curve)) curves[key] = curve = [];
                        curve.Add((fa, recall, threshold));
                    }
        }
        string csvPath = Path.Combine(outDir, "stream-sweep.csv");
        File.WriteAllText(csvPath, csv.ToString());
        Console.WriteLine($"Every setting: {csvPath}");
        string png = Path.Combine(outDir, "stream-sweep.png");
        Plot(png, curves, $"{string.Join(", ", recordings.Select(r => Path.GetFileName(r.Model)).Distinct())} on {recordings.Count} recording(s), {words} words, {minutes:F1} min");
        Console.WriteLine($"Recall against false alarms: {png}");
        return 0;
    }

    /// <summary>Every window's probabilities for one recording, pushed in 100 ms chunks as a microphone delivers them.</summary>
    private static Scores Score(MLContext ml, ITransformer model, Recording recording, bool gate)
    {
        var wall = Stopwatch.StartNew();
        using var listener = new StreamingAudioClassifier(ml, model, new StreamingClassifierOptions { VoiceActivityGate = gate ? new() : null });
        var windows = new List<(long, float[])>();
        listener.WindowScored = (start, raw, _) => windows.Add((start, raw));
        for (int i = 0; i < recording.Audio.Length; i += 1600)
            listener.Push(recording.Audio.AsSpan(i, Math.Min(1600, recording.Audio.Length - i)));
        listener.Flush();
        return new Scores(windows, listener.ComputeTime.TotalSeconds, wall.Elapsed.TotalSeconds, listener.ScoredWindows, listener.SkippedWindows);
    }

    private static void Plot(string path, Dictionary<string, List<(double fa, double recall, double threshold)>> curves, string title)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        foreach (var (name, points) in curves.Where(c => c.Key.Contains("release 0.75")))
        {
            var sorted = points.OrderBy(p => p.threshold).ToArray();
            var line = plot.Add.Scatter(sorted.Select(p => p.fa).ToArray(), sorted.Select(p => 100 * p.recall).ToArray(), palette.GetColor(i++));
            line.LegendText = name;
            if (name.Contains("gate off")) line.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        plot.Title(title);
        plot.XLabel("false alarms per minute");
        plot.YLabel("words found (%)");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        plot.SavePng(path, 900, 600);
    }
}
