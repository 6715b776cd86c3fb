using System.Text.RegularExpressions;
using Microsoft.ML;

namespace AudioClassification;

/// <summary>One labelled audio file.</summary>
public sealed class LabelledFile
{
    /// <summary>Absolute path of the file.</summary>
    public string Path { get; set; } = "";
    /// <summary>Class: the name of the folder the file is in.</summary>
    public string Label { get; set; } = "";
    /// <summary>Who speaks, as <see cref="Dataset.Load"/> found it (a speakers.csv or a naming convention); empty when unknown.</summary>
    public string Speaker { get; set; } = "";
}

/// <summary>The files of a data folder, and where their speakers came from.</summary>
/// <param name="Files">Every file, in folder and name order.</param>
/// <param name="SpeakerSource">How the speakers were found (e.g. "names <c>&lt;speaker&gt;_nohash_&lt;n&gt;</c> (Speech Commands)"), or
/// null when no convention fits.</param>
/// <param name="NoSpeakerReason">Why no convention fits, when <paramref name="SpeakerSource"/> is null.</param>
public sealed record LabelledData(List<LabelledFile> Files, string? SpeakerSource, string? NoSpeakerReason)
{
    /// <summary>Number of distinct speakers (0 when unknown).</summary>
    public int SpeakerCount => SpeakerSource is null ? 0 : Files.Select(f => f.Speaker).Distinct().Count();
}

/// <summary>A split into training, validation and test files, and a sentence that says how it was made.</summary>
public sealed record DataSplit(List<LabelledFile> Train, List<LabelledFile> Validation, List<LabelledFile> Test, string Description);

/// <summary>Folder-per-class datasets, as ML.NET's image samples and Model Builder lay them out: DIR/&lt;class&gt;/*.wav.</summary>
public static class Dataset
{
    /// <summary>A CSV beside the class folders that names each file's speaker: columns <c>file</c> (or <c>path</c>: relative
    /// to the data folder, or the bare file name) and <c>speaker</c>.</summary>
    public const string SpeakerFileName = "speakers.csv";

    /// <summary>Fractions of the files held out for testing and validation (the rest, about 75%, trains).</summary>
    public const double TestFraction = 0.15, ValidationFraction = 0.10;

    /// <summary>Training never gets less than this fraction of the files because of a speaker split.</summary>
    private const double MinTrainFraction = 0.70;

    /// <summary>Fewest speakers for a split by speaker: with fewer, a test set of whole speakers is one or two voices (a
    /// noisy estimate) and takes a large share of the voices out of training.</summary>
    public const int MinSpeakersForSpeakerSplit = 10;

    /// <summary>The naming conventions tried, in order, when there is no speakers.csv.</summary>
    private static readonly (string Name, Regex Pattern, bool ClassPrefix)[] Conventions =
    [
        // Speech Commands (Warden 2018): bed/0a7c2a8d_nohash_0.wav.
        ("names <speaker>_nohash_<n> (Speech Commands)", new Regex(@"^(?<speaker>.+)_nohash_\d+$"), false),
        // Free Spoken Digit Dataset and its kin: 7_jackson_32.wav, the class first.
        ("names <class>_<speaker>_<n>", new Regex(@"^(?<class>[^_]+)_(?<speaker>.+)_\d+$"), true),
        // The bundled words: en-gb-m1_down.wav.
        ("names <speaker>_<anything>", new Regex(@"^(?<speaker>[^_]+)_.+$"), false),
    ];

    /// <summary>Lists the WAV files under each class folder of <paramref name="root"/> and finds who speaks in each: from
    /// <see cref="SpeakerFileName"/> when present, else from the first naming convention that gives credible speakers.</summary>
    public static LabelledData Load(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Data folder '{root}' does not exist.");
        var files = new List<LabelledFile>();
        foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            foreach (var file in Directory.GetFiles(dir, "*.wav").Order(StringComparer.Ordinal))
                files.Add(new LabelledFile { Path = System.IO.Path.GetFullPath(file), Label = System.IO.Path.GetFileName(dir) });
        int classes = files.Select(f => f.Label).Distinct().Count();
        if (classes < 2)
            throw new InvalidDataException($"'{root}' must hold at least two class folders with .wav files; found {files.Count} files in {classes} folder(s).");

        string csv = System.IO.Path.Combine(root, SpeakerFileName);
        if (File.Exists(csv))
        {
            var speakers = ReadSpeakerCsv(csv, root);
            foreach (var f in files)
            {
                string relative = System.IO.Path.GetRelativePath(root, f.Path).Replace('\\', '/');
                if (!speakers.TryGetValue(relative, out var s) && !speakers.TryGetValue(System.IO.Path.GetFileName(f.Path), out s))
                    throw new InvalidDataException($"{csv} has no row for '{relative}'.");
                f.Speaker = s;
            }
            return new LabelledData(files, SpeakerFileName, null);
        }

        string? firstReason = null;
        foreach (var (name, pattern, classPrefix) in Conventions)
        {
            var found = Speakers(files, pattern, classPrefix);
            string? reason = found is null ? null : Implausible(files, found);
            if (found is not null && reason is null)
            {
                for (int i = 0; i < files.Count; i++) files[i].Speaker = found[i];
                return new LabelledData(files, name, null);
            }
            firstReason ??= reason is null ? null : $"{name} give {reason}";
        }
        return new LabelledData(files, null, firstReason ?? "the file names follow none of the known conventions");
    }

    /// <summary>Each file's speaker under one convention, or null when a file does not follow it.</summary>
    private static string[]? Speakers(List<LabelledFile> files, Regex pattern, bool classPrefix)
    {
        var speakers = new string[files.Count];
        var prefixOfClass = new Dictionary<string, string>();
        for (int i = 0; i < files.Count; i++)
        {
            var m = pattern.Match(System.IO.Path.GetFileNameWithoutExtension(files[i].Path));
            if (!m.Success) return null;
            // The class token must be the same within a class folder and differ between folders, or it is not a class.
            if (classPrefix && prefixOfClass.TryGetValue(files[i].Label, out var p) && p != m.Groups["class"].Value) return null;
            if (classPrefix) prefixOfClass[files[i].Label] = m.Groups["class"].Value;
            speakers[i] = m.Groups["speaker"].Value;
        }
        if (classPrefix && prefixOfClass.Values.Distinct().Count() != prefixOfClass.Count) return null;
        return speakers;
    }

    /// <summary>Why these speakers cannot be people (null when they can): one name for most files, or names that each
    /// occur in one class only (file ids or class names, not voices).</summary>
    private static string? Implausible(List<LabelledFile> files, string[] speakers)
    {
        var groups = speakers.Select((s, i) => (s, i)).GroupBy(x => x.s).ToList();
        var largest = groups.MaxBy(g => g.Count())!;
        if (groups.Count < 2) return $"one speaker '{largest.Key}' for every file";
        if (largest.Count() > files.Count / 2) return $"one speaker '{largest.Key}' for {largest.Count()} of {files.Count} files";
        int inSeveralClasses = groups.Where(g => g.Select(x => files[x.i].Label).Distinct().Count() > 1).Sum(g => g.Count());
        if (inSeveralClasses * 2 < files.Count) return $"{groups.Count} 'speakers' that mostly occur in one class only (ids, not voices)";
        return null;
    }

    private static Dictionary<string, string> ReadSpeakerCsv(string csv, string root)
    {
        var lines = File.ReadAllLines(csv).Where(l => l.Trim().Length > 0).ToArray();
        if (lines.Length == 0) throw new InvalidDataException($"{csv} is empty; it needs a header with columns 'file' and 'speaker'.");
        var header = SplitCsvLine(lines[0]).Select(h => h.Trim().ToLowerInvariant()).ToList();
        int fileColumn = header.FindIndex(h => h is "file" or "path" or "filename");
        int speakerColumn = header.IndexOf("speaker");
        if (fileColumn < 0 || speakerColumn < 0)
            throw new InvalidDataException($"{csv} needs a header with columns 'file' (or 'path') and 'speaker'; found: {lines[0]}");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 1; i < lines.Length; i++)
        {
            var cells = SplitCsvLine(lines[i]);
            if (cells.Count <= Math.Max(fileColumn, speakerColumn))
                throw new InvalidDataException($"{csv} line {i + 1} has {cells.Count} columns; the header has {header.Count}.");
            string file = cells[fileColumn].Trim().Replace('\\', '/'), speaker = cells[speakerColumn].Trim();
            if (speaker.Length == 0) throw new InvalidDataException($"{csv} line {i + 1}: the speaker of '{file}' is empty.");
            if (System.IO.Path.IsPathRooted(file)) file = System.IO.Path.GetRelativePath(root, file).Replace('\\', '/');
            if (!map.TryAdd(file, speaker) && map[file] != speaker)
                throw new InvalidDataException($"{csv} line {i + 1}: '{file}' is listed twice with different speakers.");
        }
        return map;
    }

    /// <summary>Splits one CSV line into cells (commas; double quotes around cells that hold commas or quotes).</summary>
    private static List<string> SplitCsvLine(string line)
    {
        var cells = new List<string>();
        var cell = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { cell.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else cell.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { cells.Add(cell.ToString()); cell.Clear(); }
            else cell.Append(c);
        }
        cells.Add(cell.ToString());
        return cells;
    }

    /// <summary>
    /// Splits the way the model will be used, keeping about 75% of the files for training and every class in the
    /// validation and test sets. With at least <see cref="MinSpeakersForSpeakerSplit"/> known speakers, the test set holds
    /// whole speakers the model never hears (about
    /// <see cref="TestFraction"/> of the files), and so does the validation set when there are enough speakers;
    /// otherwise validation takes <see cref="ValidationFraction"/> of the training speakers' files, stratified by class.
    /// Without speakers, both are seeded stratified samples of the files.
    /// </summary>
    public static DataSplit Split(LabelledData data, int seed = 1)
    {
        var files = data.Files;
        var tooFew = files.GroupBy(f => f.Label).FirstOrDefault(g => g.Count() < 3);
        if (tooFew is not null)
            throw new InvalidDataException($"Class '{tooFew.Key}' has {tooFew.Count()} file(s); training, validation and test need at least 3 per class.");
        var rng = new Random(seed);
        if (data.SpeakerSource is not null && data.SpeakerCount >= MinSpeakersForSpeakerSplit)
        {
            var speakers = files.Select(f => f.Speaker).Distinct().Order(StringComparer.Ordinal).ToArray();
            rng.Shuffle(speakers);
            var test = HoldOutSpeakers(files, speakers, TestFraction, 1 - MinTrainFraction - ValidationFraction);
            if (test is not null)
            {
                var rest = speakers.Where(s => !test.Contains(s)).ToArray();
                var testFiles = files.Where(f => test.Contains(f.Speaker)).ToList();
                var others = files.Where(f => !test.Contains(f.Speaker)).ToList();
                // Validation speakers too, if that still leaves MinTrainFraction of all files for training.
                var validation = HoldOutSpeakers(others, rest, ValidationFraction * files.Count / others.Count,
                    (others.Count - MinTrainFraction * files.Count) / others.Count);
                if (validation is not null)
                {
                    var validationFiles = others.Where(f => validation.Contains(f.Speaker)).ToList();
                    var trainFiles = others.Where(f => !validation.Contains(f.Speaker)).ToList();
                    return new DataSplit(trainFiles, validationFiles, testFiles,
                        $"Split by speaker ({data.SpeakerSource}): train {trainFiles.Count} files of {speakers.Length - test.Count - validation.Count} speakers, " +
                        $"validation {validationFiles.Count} of {validation.Count}, test {testFiles.Count} of {test.Count}; validation and test voices are not in training.");
                }
                var (train, valid) = Stratified(others, ValidationFraction * files.Count / others.Count, rng);
                return new DataSplit(train, valid, testFiles,
                    $"Split by speaker ({data.SpeakerSource}): test {testFiles.Count} files of {test.Count} speaker(s) not in training ({string.Join(", ", test.Order(StringComparer.Ordinal).Take(5))}" +
                    $"{(test.Count > 5 ? ", ..." : "")}); too few speakers to hold out more, so validation is {valid.Count} files of the {rest.Length} training speakers " +
                    $"(stratified by class, seed {seed}); train {train.Count}.");
            }
        }
        var (pool, testSet) = Stratified(files, TestFraction, rng);
        var (trainSet, validationSet) = Stratified(pool, ValidationFraction / (1 - TestFraction), rng);
        string why = data.SpeakerSource is null
            ? $"no speakers found ({data.NoSpeakerReason}; a {SpeakerFileName} with columns file,speaker names them)"
            : data.SpeakerCount < MinSpeakersForSpeakerSplit
            ? $"{data.SpeakerCount} speakers ({data.SpeakerSource}) are too few to hold whole speakers out (fewer than {MinSpeakersForSpeakerSplit}), so every voice trains"
            : $"the {data.SpeakerCount} speakers ({data.SpeakerSource}) cannot give a test set with every class and keep {MinTrainFraction:P0} for training";
        return new DataSplit(trainSet, validationSet, testSet,
            $"Split by file, stratified by class (seed {seed}): {why}: train {trainSet.Count}, validation {validationSet.Count}, test {testSet.Count}. " +
            "Test voices may also be in training, so the test accuracy says little about new speakers.");
    }

    /// <summary>
    /// Speakers (in the given, shuffled order) whose files make up at least <paramref name="fraction"/> of
    /// <paramref name="files"/> and cover every class, or null when that needs more than <paramref name="maxFraction"/>.
    /// </summary>
    private static HashSet<string>? HoldOutSpeakers(List<LabelledFile> files, string[] speakers, double fraction, double maxFraction)
    {
        if (speakers.Length < 2) return null;
        var classesOf = files.GroupBy(f => f.Speaker).ToDictionary(g => g.Key, g => (count: g.Count(), classes: g.Select(f => f.Label).ToHashSet()));
        var missing = files.Select(f => f.Label).ToHashSet();
        var chosen = new HashSet<string>();
        int taken = 0;
        foreach (var s in speakers)
        {
            if (taken >= fraction * files.Count && missing.Count == 0) break;
            if (taken >= fraction * files.Count && !classesOf[s].classes.Overlaps(missing)) continue;
            chosen.Add(s);
            taken += classesOf[s].count;
            missing.ExceptWith(classesOf[s].classes);
        }
        bool speakersLeft = chosen.Count < speakers.Length;
        return missing.Count == 0 && taken <= maxFraction * files.Count + 1e-9 && speakersLeft ? chosen : null;
    }

    /// <summary>A seeded sample of <paramref name="fraction"/> of each class's files (at least one), and the rest.</summary>
    private static (List<LabelledFile> rest, List<LabelledFile> sample) Stratified(List<LabelledFile> files, double fraction, Random rng)
    {
        var rest = new List<LabelledFile>();
        var sample = new List<LabelledFile>();
        foreach (var group in files.GroupBy(f => f.Label).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var shuffled = group.ToArray();
            rng.Shuffle(shuffled);
            int n = Math.Clamp((int)Math.Round(shuffled.Length * fraction), 1, shuffled.Length - 1);
            sample.AddRange(shuffled.Take(n));
            rest.AddRange(shuffled.Skip(n));
        }
        return (rest, sample);
    }

    /// <summary>A data view of the files: columns Path, Label, Speaker.</summary>
    public static IDataView ToDataView(MLContext ml, IEnumerable<LabelledFile> files) => ml.Data.LoadFromEnumerable(files);
}
