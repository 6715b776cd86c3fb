using System.Collections.Concurrent;
using System.Text;
using Microsoft.ML.Audio.Gpu.IO;

namespace AudioClassification.Web;

/// <summary>One uploaded example: a multipart part, whose form name is its class.</summary>
/// <param name="Label">The class (the part's form name).</param>
/// <param name="FileName">The part's file name, for messages.</param>
/// <param name="Bytes">The audio file, in any format the decoder reads.</param>
public sealed record TeachingClip(string Label, string FileName, byte[] Bytes);

/// <summary>Where a training is: <c>embedding</c> (Total clips), <c>fitting</c> (the head), <c>saving</c>, then the
/// server's <c>loading</c>.</summary>
public sealed record TrainingProgress(string Stage, int Done, int Total);

/// <summary>The uploads cannot train a model; the message says which part and why (a 400 answer).</summary>
public sealed class TeachingException(string message) : Exception(message);

/// <summary>A model trained from uploads.</summary>
/// <param name="Zip">The ML.NET model zip, as the console sample saves it.</param>
/// <param name="Classes">Its classes in score order (sorted), background ones included.</param>
/// <param name="ClipSeconds">The clip length it hears (and a live stream's window).</param>
/// <param name="Examples">Training clips per class, after long background recordings were cut into clips.</param>
public sealed record TaughtModel(byte[] Zip, IReadOnlyList<string> Classes, double ClipSeconds, IReadOnlyDictionary<string, int> Examples);

/// <summary>
/// Teachable Machine's recipe on the console sample's parts: a few examples of each word (and a stretch of background)
/// train the pretrained speech embedding, frozen, with a logistic-regression head (<see cref="ModelSelection.FrozenEmbedding"/>,
/// trained by <see cref="ModelTraining.Train"/>), in seconds.
/// </summary>
/// <remarks>
/// What the web adds to the console's recipe, for examples recorded in a page rather than cut from a corpus:
/// <list type="bullet">
/// <item>The clip length is chosen by <see cref="ModelSelection.ClipSecondsFor"/> from how long the words are, not the
/// recordings: a word recorded in 2 s with a click before it lasts 0.6 s, and a 1 s window (the live stream's) is what
/// should hear it. Each recording is then cut to its loudest stretch of that length, as in the console sample, which
/// keeps the room's own background around the word.</item>
/// <item>A background class (a name starting with '_', as <c>_background_</c>, or <c>background</c>, <c>noise</c>,
/// <c>silence</c>: the classes <see cref="Microsoft.ML.Audio.Gpu.Training.StreamingAudioClassifier"/> does not report)
/// recorded in one long stretch is cut into clips of that length, half overlapping, so 5 s of a room is 9 examples,
/// not 1.</item>
/// </list>
/// </remarks>
public static class Teacher
{
    /// <summary>Most classes in one training.</summary>
    public const int MaxClasses = 50;

    /// <summary>Longest class name.</summary>
    public const int MaxLabelLength = 64;

    /// <summary>Most clips a background recording is cut into (60 s of it at 1 s clips).</summary>
    public const int MaxBackgroundClipsPerUpload = 119;

    /// <summary>The rate everything is decoded to: the speech embedding's.</summary>
    internal const int SampleRate = 16000;

    /// <summary>Whether a class is background: one the streaming classifier does not report by default
    /// (<c>StreamingClassifierOptions.IgnoredClasses</c>: names starting with '_', or silence, background, noise).</summary>
    public static bool IsBackground(string label)
        => label.StartsWith('_') || label is "silence" or "background" or "noise";

    /// <summary>
    /// Checks and decodes the uploads and writes the training clips to a temporary folder (deleted with the set): every
    /// problem the uploads have is found here, before any training.
    /// </summary>
    /// <param name="clips">The uploads, in form order.</param>
    /// <exception cref="TeachingException">An upload cannot be used (empty label, undecodable audio, ...), or the uploads
    /// do not make a training set (fewer than two classes); the message names every such part.</exception>
    public static TrainingSet Prepare(IReadOnlyList<TeachingClip> clips)
    {
        var problems = new List<string>();
        for (int i = 0; i < clips.Count; i++)
            if (LabelProblem(clips[i].Label) is string problem) problems.Add($"part {i + 1} ({Describe(clips[i])}): {problem}");
        ThrowIfAny(problems);
        var classes = clips.Select(c => c.Label).Distinct().Order(StringComparer.Ordinal).ToArray();
        if (classes.Length < 2)
            throw new TeachingException(classes.Length == 0
                ? "The form has no files: send one part per example, its form name the class label (e.g. yes, no, _background_)."
                : $"Training needs at least two classes (form names); every part is '{classes[0]}'. Add another word, or a background recording named _background_.");
        if (classes.Length > MaxClasses) throw new TeachingException($"The form names {classes.Length} classes; at most {MaxClasses} can be trained at once.");

        // Each upload decoded once, in parallel, as the console sample checks its folder; every failure is reported.
        var decoded = new float[clips.Count][];
        var failures = new ConcurrentDictionary<int, string>();
        Parallel.For(0, clips.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            try
            {
                var audio = AudioDecoder.Decode(clips[i].Bytes, clips[i].FileName, new AudioDecodeOptions { SampleRate = SampleRate, Mono = true });
                if (audio.Samples.Length == 0) failures[i] = "it holds no audio samples";
                else decoded[i] = audio.Samples;
            }
            catch (AudioDecodeException e)
            {
                failures[i] = e.Reason;
            }
        });
        ThrowIfAny([.. failures.OrderBy(f => f.Key).Select(f => $"part {f.Key + 1} ({Describe(clips[f.Key])}): {f.Value}")]);

        var words = Enumerable.Range(0, clips.Count).Where(i => !IsBackground(clips[i].Label)).ToList();
        double clipSeconds = ModelSelection.ClipSecondsFor([.. (words.Count > 0 ? words : Enumerable.Range(0, clips.Count)).Select(i => WordSeconds(decoded[i]))]);

        var set = new TrainingSet(Directory.CreateTempSubdirectory("kapre-teach-"), classes, clipSeconds);
        try
        {
            int clip = (int)Math.Round(clipSeconds * SampleRate), hop = clip / 2;
            for (int i = 0; i < clips.Count; i++)
            {
                var samples = decoded[i];
                if (!IsBackground(clips[i].Label) || samples.Length < clip + hop) set.Add(clips[i].Label, samples);
                else
                    for (int start = 0, n = 0; start + clip <= samples.Length && n < MaxBackgroundClipsPerUpload; start += hop, n++)
                        set.Add(clips[i].Label, samples.AsSpan(start, clip));
            }
            return set;
        }
        catch
        {
            set.Dispose();
            throw;
        }
    }

    /// <summary>Trains the frozen speech embedding's head on a prepared set (<see cref="ModelTraining.Train"/>) and saves
    /// the model as the console sample does.</summary>
    /// <param name="set">The clips.</param>
    /// <param name="progress">Called at each stage, from the training's thread.</param>
    /// <param name="warning">Called with the trainer's warnings.</param>
    public static TaughtModel Fit(TrainingSet set, Action<TrainingProgress> progress, Action<string>? warning = null)
    {
        var files = set.Files;
        progress(new TrainingProgress("embedding", 0, files.Count));
        var settings = new ModelTraining.Settings { GpuDeviceId = 0, FallbackToCpu = true };
        // The trainer's progress reaches the console sample as lines (ConsoleProgress); they mark the stages here.
        // Were their wording to change, the page would skip a stage, nothing more.
        var stages = new LineWriter(line =>
        {
            if (line.Contains("warning: ", StringComparison.Ordinal)) warning?.Invoke(line.Trim());
            else if (line.Contains("embedded ", StringComparison.Ordinal)) progress(new TrainingProgress("fitting", files.Count, files.Count));
            else if (line.Contains("fitted the head", StringComparison.Ordinal)) progress(new TrainingProgress("saving", files.Count, files.Count));
        });
        var result = ModelTraining.Train([.. files], null, ModelSelection.FrozenEmbedding, settings, set.ClipSeconds, settings.Epochs, null, stages);
        try
        {
            using var zip = new MemoryStream();
            result.Context.Model.Save(result.Model, Dataset.ToDataView(result.Context, files.Take(1)).Schema, zip);
            var examples = files.GroupBy(f => f.Label).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            return new TaughtModel(zip.ToArray(), set.Classes, set.ClipSeconds, examples);
        }
        finally
        {
            (result.Model as IDisposable)?.Dispose();
        }
    }

    /// <summary>Why a form name cannot be a class label, or null when it can.</summary>
    public static string? LabelProblem(string label)
    {
        if (string.IsNullOrWhiteSpace(label)) return "it has no form name; the form name is the example's class label";
        if (label.Length > MaxLabelLength) return $"its form name is {label.Length} characters long; a class label has at most {MaxLabelLength}";
        if (label.Any(char.IsControl)) return "its form name holds control characters";
        if (label != label.Trim()) return $"its form name '{label}' starts or ends with a space";
        return null;
    }

    /// <summary>How long the sound in a recording lasts: from the first to the last 10 ms frame that stands out, i.e. is
    /// within 30 dB of the loudest frame and 10 dB above the quietest tenth of the frames (the room).</summary>
    public static double WordSeconds(float[] samples)
    {
        const int Frame = SampleRate / 100;
        int frames = samples.Length / Frame;
        if (frames < 2) return (double)samples.Length / SampleRate;
        var levels = new double[frames];
        for (int f = 0; f < frames; f++)
        {
            double energy = 0;
            for (int t = f * Frame; t < (f + 1) * Frame; t++) energy += (double)samples[t] * samples[t];
            levels[f] = 10 * Math.Log10(energy / Frame + 1e-12);
        }
        var sorted = levels.Order().ToArray();
        double room = sorted[frames / 10], loudest = sorted[^1];
        double threshold = Math.Max(loudest - 30, room + 10);
        int first = Array.FindIndex(levels, l => l >= threshold), last = Array.FindLastIndex(levels, l => l >= threshold);
        return first < 0 ? (double)samples.Length / SampleRate : (last - first + 1) / 100.0;
    }

    private static string Describe(TeachingClip clip) => $"'{clip.Label}', file '{clip.FileName}'";

    private static void ThrowIfAny(List<string> problems)
    {
        if (problems.Count == 0) return;
        const int Shown = 10;
        var message = new StringBuilder(problems.Count == 1 ? "An upload cannot be used: " : $"{problems.Count} uploads cannot be used: ");
        message.AppendJoin("; ", problems.Take(Shown));
        if (problems.Count > Shown) message.Append($"; and {problems.Count - Shown} more");
        message.Append('.');
        throw new TeachingException(message.ToString());
    }

    /// <summary>Hands each written line to a callback.</summary>
    private sealed class LineWriter(Action<string> line) : TextWriter
    {
        private readonly StringBuilder _pending = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            if (value == '\n')
            {
                line(_pending.ToString().TrimEnd('\r'));
                _pending.Clear();
            }
            else _pending.Append(value);
        }
    }
}

/// <summary>The clips of a training, written as files (the console sample's training reads files) in a temporary
/// folder that is deleted with the set.</summary>
public sealed class TrainingSet : IDisposable
{
    private readonly DirectoryInfo _folder;
    private readonly List<LabelledFile> _files = [];

    internal TrainingSet(DirectoryInfo folder, IReadOnlyList<string> classes, double clipSeconds)
        => (_folder, Classes, ClipSeconds) = (folder, classes, clipSeconds);

    /// <summary>The classes, sorted (the model's score order).</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>The clip length chosen for the words.</summary>
    public double ClipSeconds { get; }

    /// <summary>The clips, each a float WAV of decoded 16 kHz samples.</summary>
    public IReadOnlyList<LabelledFile> Files => _files;

    internal void Add(string label, ReadOnlySpan<float> samples)
    {
        string path = Path.Combine(_folder.FullName, $"{_files.Count:D5}.wav");
        File.WriteAllBytes(path, WavFile.Float32(samples, Teacher.SampleRate));
        _files.Add(new LabelledFile { Path = path, Label = label });
    }

    public void Dispose()
    {
        try { _folder.Delete(recursive: true); } catch (IOException) { }
    }
}
