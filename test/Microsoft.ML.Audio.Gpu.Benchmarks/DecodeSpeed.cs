// Decoding speed per format (issue 16): audio-seconds decoded per second of one core, this library's AudioDecoder beside
// ffmpeg (`-threads 1`), over the real files that build/fetch-audio-samples.sh fetches; and, for the lossy formats, how
// far each file's decode is from ffmpeg's. Both are timed in CPU seconds (ours: the process's processor time around the
// loop; ffmpeg: the utime + stime of its -benchmark line, so its start-up is not counted): on a shared machine, wall
// time measures the neighbours.
//
//   dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks -- --decode-speed [--runs 3] [--out FILE]
//
// Opus has no real files in those packages: the 30 piano MP3s are transcoded to Opus (96 kbit/s) by ffmpeg's libopus
// first; and the 206 FLAC files converted to AIFF join the one AIFF. Needs ffmpeg on the PATH for the comparison columns; without it only our speeds are printed.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML.Audio.Gpu.IO;

internal static class DecodeSpeed
{
    public static int Run(string[] args)
    {
        int runs = 3;
        string? outPath = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--runs") runs = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--out") outPath = args[++i];
        }
        string root = FindRoot();
        string samples = Path.Combine(root, "artifacts", "audio-samples");
        if (!Directory.Exists(samples))
        {
            Console.Error.WriteLine($"{samples} is missing: run build/fetch-audio-samples.sh");
            return 1;
        }
        bool ffmpeg = Has("ffmpeg");
        string opusDir = Path.Combine(Path.GetTempPath(), "kapre-decode-speed-opus");
        if (ffmpeg && !Directory.Exists(opusDir))
        {
            Directory.CreateDirectory(opusDir);
            foreach (var mp3 in Directory.GetFiles(Path.Combine(samples, "piano-mp3"), "*.mp3"))
                Exec("ffmpeg", $"-nostdin -v error -y -i \"{mp3}\" -c:a libopus -b:a 96k \"{Path.Combine(opusDir, Path.GetFileNameWithoutExtension(mp3) + ".opus")}\"");
        }
        // One 0.2 s AIFF is too little to time: the FLAC files converted to AIFF by ffmpeg are timed beside it.
        string aiffDir = Path.Combine(Path.GetTempPath(), "kapre-decode-speed-aiff");
        if (ffmpeg && !Directory.Exists(aiffDir))
        {
            Directory.CreateDirectory(aiffDir);
            foreach (var flac in Directory.GetFiles(Path.Combine(samples, "scsynth"), "*.flac"))
                Exec("ffmpeg", $"-nostdin -v error -y -i \"{flac}\" \"{Path.Combine(aiffDir, Path.GetFileNameWithoutExtension(flac) + ".aiff")}\"");
        }
        var groups = new (string format, string[] files)[]
        {
            ("FLAC", Directory.GetFiles(Path.Combine(samples, "scsynth"), "*.flac").Order().ToArray()),
            ("AIFF", [.. Directory.GetFiles(Path.Combine(samples, "scsynth"), "*.aiff"), .. Directory.Exists(aiffDir) ? Directory.GetFiles(aiffDir, "*.aiff").Order().ToArray() : []]),
            ("MP3", Directory.GetFiles(Path.Combine(samples, "piano-mp3"), "*.mp3").Order().ToArray()),
            ("Ogg Vorbis", Directory.GetFiles(Path.Combine(samples, "piano-ogg"), "*.ogg").Order().ToArray()),
            ("Ogg Opus", Directory.Exists(opusDir) ? Directory.GetFiles(opusDir, "*.opus").Order().ToArray() : []),
        };

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"Decoding speed, one core ({Environment.ProcessorCount} cores on the machine), best of {runs} runs; audio-seconds per CPU-second.");
        report.AppendLine();
        report.AppendLine("| format | files | audio (s) | AudioDecoder (s/s) | ffmpeg -threads 1 (s/s) | vs ffmpeg: min SNR (dB) | max abs error | frame counts equal |");
        report.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        var options = new AudioDecodeOptions { Mono = false };
        foreach (var (format, files) in groups)
        {
            if (files.Length == 0)
                continue;
            var bytes = files.Select(File.ReadAllBytes).ToArray(); // decode from memory: the disk is not measured
            double audio = bytes.Select((b, i) => AudioDecoder.Decode(b, files[i], options).DurationSeconds).Sum();
            double best = double.MaxValue;
            for (int r = 0; r < runs; r++)
            {
                var start = Process.GetCurrentProcess().TotalProcessorTime;
                for (int i = 0; i < bytes.Length; i++)
                    AudioDecoder.Decode(bytes[i], files[i], options);
                best = Math.Min(best, (Process.GetCurrentProcess().TotalProcessorTime - start).TotalSeconds);
            }
            string theirs = "-", snr = "-", maxAbs = "-", counts = "-";
            if (ffmpeg)
            {
                double ffBest = double.MaxValue;
                for (int r = 0; r < runs; r++)
                    ffBest = Math.Min(ffBest, files.Sum(f => FfmpegSeconds(f)));
                theirs = ffBest > 0 ? Rate(audio / ffBest) : "below its timer's resolution";
                if (format is "MP3" or "Ogg Vorbis" or "Ogg Opus")
                {
                    double minSnr = double.PositiveInfinity, worst = 0;
                    int equal = 0;
                    foreach (var f in files)
                    {
                        var ours = AudioDecoder.Decode(f, options);
                        var reference = FfmpegDecode(f, ours.Channels);
                        if (reference.Length == ours.Samples.Length / ours.Channels * ours.Channels) equal++;
                        var (s, m) = Compare(ours, reference);
                        minSnr = Math.Min(minSnr, s);
                        worst = Math.Max(worst, m);
                    }
                    snr = minSnr.ToString("F1", CultureInfo.InvariantCulture);
                    maxAbs = worst.ToString("E1", CultureInfo.InvariantCulture);
                    counts = $"{equal} of {files.Length}";
                }
            }
            report.AppendLine(CultureInfo.InvariantCulture, $"| {format} | {files.Length} | {audio:F1} | {Rate(audio / best)} | {theirs} | {snr} | {maxAbs} | {counts} |");
        }
        Console.Write(report);
        if (outPath is not null)
            File.WriteAllText(outPath, report.ToString());
        return 0;
    }

    private static string Rate(double x) => x.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>SNR of our decode against ffmpeg's over the frames both have (dB, worst channel) and the largest difference.</summary>
    private static (double snr, double maxAbs) Compare(AudioBuffer ours, float[] interleaved)
    {
        int channels = ours.Channels;
        int frames = Math.Min(ours.Frames, interleaved.Length / channels);
        double worstSnr = double.PositiveInfinity, maxAbs = 0;
        for (int c = 0; c < channels; c++)
        {
            var x = ours.GetChannel(c);
            double signal = 0, error = 0;
            for (int i = 0; i < frames; i++)
            {
                double r = interleaved[i * channels + c], d = x[i] - r;
                signal += r * r;
                error += d * d;
                maxAbs = Math.Max(maxAbs, Math.Abs(d));
            }
            worstSnr = Math.Min(worstSnr, error == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / error));
        }
        return (worstSnr, maxAbs);
    }

    private static float[] FfmpegDecode(string file, int channels)
    {
        var start = new ProcessStartInfo("ffmpeg", $"-nostdin -v error -i \"{file}\" -f f32le -")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        using var memory = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(memory);
        process.WaitForExit();
        var bytes = memory.ToArray();
        var samples = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, samples, 0, samples.Length * 4);
        return samples;
    }

    /// <summary>ffmpeg's own measure of the decode (utime + stime of -benchmark: CPU seconds), without its start-up.</summary>
    private static double FfmpegSeconds(string file)
    {
        string output = Exec("ffmpeg", $"-nostdin -threads 1 -benchmark -i \"{file}\" -c:a pcm_f32le -f null -");
        return Field(output, "utime=") + Field(output, "stime=");
    }

    private static double Field(string output, string name)
    {
        int at = output.LastIndexOf(name, StringComparison.Ordinal);
        if (at < 0)
            throw new InvalidOperationException($"ffmpeg printed no {name}: {output}");
        string value = new(output[(at + name.Length)..].TakeWhile(ch => char.IsDigit(ch) || ch == '.').ToArray());
        return double.Parse(value, CultureInfo.InvariantCulture);
    }

    private static bool Has(string tool)
    {
        try
        {
            Exec(tool, "-version");
            return true;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static string Exec(string tool, string arguments)
    {
        var start = new ProcessStartInfo(tool, arguments) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return stdout.Result + stderr;
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Kapre.MLNet.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? Directory.GetCurrentDirectory();
    }
}
