using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.IO;

namespace AudioClassification;

/// <summary>One labelled audio file.</summary>
public sealed class LabelledFile
{
    /// <summary>Absolute path of the file.</summary>
    public string Path { get; set; } = "";
    /// <summary>Class: the name of the folder the file is in.</summary>
    public string Label { get; set; } = "";
    /// <summary>Who speaks, as <see cref="Dataset.Load"/> found it (a speakers.csv, a folder or a naming convention); empty
    /// when unknown (Speech Commands' <c>_silence_</c> cuts, say): such a file is a group of its own when splitting.</summary>
    public string Speaker { get; set; } = "";
}

/// <summary>A file left out of training and scoring, and why.</summary>
/// <param name="Path">The file.</param>
/// <param name="Reason">The decoder's reason (or why it is not audio).</param>
public sealed record UnusableFile(string Path, string Reason);

/// <summary>The files of a data folder, and where their speakers came from.</summary>
/// <param name="Files">Every usable file, in folder and name order.</param>
/// <param name="SpeakerSource">How the speakers were found (e.g. "names <c>&lt;speaker&gt;_nohash_&lt;n&gt;</c> (Speech Commands)"), or
/// null when no convention fits.</param>
/// <param name="NoSpeakerReason">Why no convention fits, when <paramref name="SpeakerSource"/> is null.</param>
public sealed record LabelledData(List<LabelledFile> Files, string? SpeakerSource, string? NoSpeakerReason)
{
    /// <summary>Number of distinct speakers (0 when unknown).</summary>
    public int SpeakerCount => SpeakerSource is null ? 0 : Files.Where(f => f.Speaker.Length > 0).Select(f => f.Speaker).Distinct().Count();

    /// <summary>Files that were found but cannot be used (they fail to decode), with the reason.</summary>
    public List<UnusableFile> Unusable { get; init; } = [];

    /// <summary>Class folders without a usable file (left out: a class needs examples).</summary>
    public List<string> EmptyClasses { get; init; } = [];

    /// <summary>Recordings of background noise in <see cref="Dataset.NoiseFolder"/>: not a class; training may mix them into
    /// clips (<c>--augment noise</c>).</summary>
    public List<string> NoiseFiles { get; init; } = [];

    /// <summary>The class names, sorted.</summary>
    public string[] Classes => [.. Files.Select(f => f.Label).Distinct().Order(StringComparer.Ordinal)];
}

/// <summary>A split into training, validation and test files, and a sentence that says how it was made.</summary>
public sealed record DataSplit(List<LabelledFile> Train, List<LabelledFile> Validation, List<LabelledFile> Test, string Description);

/// <summary>Folder-per-class datasets, as ML.NET's image samples and Model Builder lay them out: DIR/&lt;class&gt;/...</summary>
public static class Dataset
{
    /// <summary>A CSV beside the class folders that names each file's speaker: columns <c>file</c> (or <c>path</c>: relative
    /// to the data folder, or the bare file name) and <c>speaker</c>.</summary>
    public const string SpeakerFileName = "speakers.csv";

    /// <summary>A folder of background-noise recordings beside the class folders (Speech Commands' layout): not a class.</summary>
    public const string NoiseFolder = "_background_noise_";

    /// <summary>The class of background cuts in Speech Commands' layout: its training files are noise recordings too.</summary>
    public const string SilenceClass = "_silence_";

    /// <summary>Fractions of the files held out for testing and validation (the rest, about 75%, trains).</summary>
    public const double TestFraction = 0.15, ValidationFraction = 0.10;

    /// <summary>Training never gets less than this fraction of the files because of a speaker split.</summary>
    private const double MinTrainFraction = 0.70;

    /// <summary>Fewest speakers for a split by speaker: with fewer, a test set of whole speakers is one or two voices (a
    /// noisy estimate) and takes a large share of the voices out of training.</summary>
    public const int MinSpeakersForSpeakerSplit = 10;

    /// <summary>The naming conventions tried when there is no speakers.csv and no speaker folders; the one that fits the
    /// most files (at least half of them) with credible speakers wins, and files it does not fit have no speaker.</summary>
    private static readonly (string Name, Regex Pattern, bool ClassPrefix)[] Conventions =
    [
        // Speech Commands (Warden 2018): bed/0a7c2a8d_nohash_0.wav; in the test set's _unknown_ folder the word comes
        // first, backward_0c540988_nohash_0.wav.wav.
        ("names <speaker>_nohash_<n> (Speech Commands)", new Regex(@"^(?:.+_)?(?<speaker>[^_]+)_nohash_\d+$"), false),
        // Free Spoken Digit Dataset and its kin: 7_jackson_32.wav, the class first.
        ("names <class>_<speaker>_<n>", new Regex(@"^(?<class>[^_]+)_(?<speaker>.+)_\d+$"), true),
        // The bundled words: en-gb-m1_down.wav.
        ("names <speaker>_<anything>", new Regex(@"^(?<speaker>[^_]+)_.+$"), false),
    ];

    /// <summary>
    /// Lists the files under each class folder of <paramref name="root"/> (in subfolders too; hidden files and folders
    /// are skipped) and finds who speaks in each: from <see cref="SpeakerFileName"/> when present, else from speaker
    /// folders inside the class folders (LibriSpeech's <c>&lt;speaker&gt;/&lt;chapter&gt;/...</c>), else from the naming
    /// convention that fits the most files. Nothing is decoded here: <see cref="Check"/> does that.
    /// </summary>
    public static LabelledData Load(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Data folder '{root}' does not exist.");
        var files = new List<LabelledFile>();
        var emptyClasses = new List<string>();
        var noise = new List<string>();
        var hidden = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System, IgnoreInaccessible = false };
        foreach (var dir in Directory.GetDirectories(root).Where(d => !IsHidden(d)).Order(StringComparer.Ordinal))
        {
            string label = System.IO.Path.GetFileName(dir);
            var found = Directory.GetFiles(dir, "*", hidden)
                .Where(f => !IsHidden(f) && !System.IO.Path.GetRelativePath(dir, f).Split(System.IO.Path.DirectorySeparatorChar).Any(p => p.StartsWith('.')))
                .Order(StringComparer.Ordinal).ToList();
            if (label == NoiseFolder)
            {
                noise.AddRange(found.Select(System.IO.Path.GetFullPath));
                continue;
            }
            if (found.Count == 0) emptyClasses.Add(label);
            foreach (var file in found)
                files.Add(new LabelledFile { Path = System.IO.Path.GetFullPath(file), Label = label });
        }
        int classes = files.Select(f => f.Label).Distinct().Count();
        if (classes < 2)
            throw new InvalidDataException($"'{root}' must hold at least two class folders with audio files; found {files.Count} files in {classes} folder(s).");

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
            return new LabelledData(files, SpeakerFileName, null) { EmptyClasses = emptyClasses, NoiseFiles = noise };
        }

        // LibriSpeech and its kin: <class>/<speaker>/<chapter>/<file>. Only when most files sit in such folders.
        var folders = files.Select(f => SpeakerFolder(root, f)).ToArray();
        if (folders.Count(s => s is not null) * 2 > files.Count)
        {
            var speakers = folders.Select(s => s ?? "").ToArray();
            if (Implausible(files, speakers) is null)
            {
                for (int i = 0; i < files.Count; i++) files[i].Speaker = speakers[i];
                return new LabelledData(files, "folders <class>/<speaker>/...", null) { EmptyClasses = emptyClasses, NoiseFiles = noise };
            }
        }

        string? firstReason = null;
        (string name, string[] speakers, int matched)? best = null;
        foreach (var (name, pattern, classPrefix) in Conventions)
        {
            var (found, matched) = Speakers(files, pattern, classPrefix);
            if (matched * 2 <= files.Count) continue;
            string? reason = Implausible(files, found);
            if (reason is null && (best is null || matched > best.Value.matched)) best = (name, found, matched);
            else if (reason is not null) firstReason ??= $"{name} give {reason}";
        }
        if (best is (string bestName, string[] bestSpeakers, int count))
        {
            for (int i = 0; i < files.Count; i++) files[i].Speaker = bestSpeakers[i];
            string source = count == files.Count ? bestName : $"{bestName}; {files.Count - count} files without a speaker";
            return new LabelledData(files, source, null) { EmptyClasses = emptyClasses, NoiseFiles = noise };
        }
        return new LabelledData(files, null, firstReason ?? "the file names follow none of the known conventions") { EmptyClasses = emptyClasses, NoiseFiles = noise };
    }

    private static bool IsHidden(string path) => System.IO.Path.GetFileName(path).StartsWith('.');

    /// <summary>The first folder between the class folder and the file, or null when the file is in the class folder itself.</summary>
    private static string? SpeakerFolder(string root, LabelledFile file)
    {
        var parts = System.IO.Path.GetRelativePath(root, file.Path).Split(System.IO.Path.DirectorySeparatorChar);
        return parts.Length >= 3 ? parts[1] : null;
    }

    /// <summary>A file's name without its extensions (Speech Commands' <c>_unknown_</c> files end in <c>.wav.wav</c>).</summary>
    private static string Stem(string path)
    {
        string name = System.IO.Path.GetFileName(path);
        while (System.IO.Path.GetExtension(name) is { Length: > 1 and <= 5 } ext && ext[1..].All(char.IsAsciiLetterOrDigit))
            name = name[..^ext.Length];
        return name;
    }

    /// <summary>Each file's speaker under one convention ("" where a file does not follow it), and how many follow it.</summary>
    private static (string[] speakers, int matched) Speakers(List<LabelledFile> files, Regex pattern, bool classPrefix)
    {
        var speakers = new string[files.Count];
        var prefixOfClass = new Dictionary<string, string>();
        int matched = 0;
        for (int i = 0; i < files.Count; i++)
        {
            speakers[i] = "";
            var m = pattern.Match(Stem(files[i].Path));
            if (!m.Success) continue;
            // The class token must be the same within a class folder and differ between folders, or it is not a class.
            if (classPrefix && prefixOfClass.TryGetValue(files[i].Label, out var p) && p != m.Groups["class"].Value) return (speakers, 0);
            if (classPrefix) prefixOfClass[files[i].Label] = m.Groups["class"].Value;
            speakers[i] = m.Groups["speaker"].Value;
            matched++;
        }
        if (classPrefix && prefixOfClass.Values.Distinct().Count() != prefixOfClass.Count) return (speakers, 0);
        return (speakers, matched);
    }

    /// <summary>Why these speakers cannot be people (null when they can): one name for most files, or names that each
    /// occur in one class only (file ids or class names, not voices). Files without a speaker ("") are not counted.</summary>
    private static string? Implausible(List<LabelledFile> files, string[] speakers)
    {
        var named = speakers.Select((s, i) => (s, i)).Where(x => x.s.Length > 0).ToList();
        var groups = named.GroupBy(x => x.s).ToList();
        if (groups.Count == 0) return "no speaker";
        var largest = groups.MaxBy(g => g.Count())!;
        if (groups.Count < 2) return $"one speaker '{largest.Key}' for every file";
        if (largest.Count() > named.Count / 2) return $"one speaker '{largest.Key}' for {largest.Count()} of {named.Count} files";
        int inSeveralClasses = groups.Where(g => g.Select(x => files[x.i].Label).Distinct().Count() > 1).Sum(g => g.Count());
        if (inSeveralClasses * 2 < named.Count) return $"{groups.Count} 'speakers' that mostly occur in one class only (ids, not voices)";
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
    /// Decodes every file once as training will (in parallel), and leaves out those that fail, each listed with the
    /// decoder's reason: a damaged FLAC, a text file in a class folder, an unsupported format. A class folder left with
    /// no usable file is listed in <see cref="LabelledData.EmptyClasses"/>. Returns the usable data and the clip
    /// durations (seconds, before padding or cropping) of the usable files, in their order.
    /// </summary>
    public static (LabelledData data, double[] seconds) Check(LabelledData data, AudioDecodeOptions decoding)
    {
        var reasons = new ConcurrentDictionary<int, string>();
        var seconds = new double[data.Files.Count];
        Parallel.For(0, data.Files.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            try
            {
                var audio = AudioDecoder.Decode(data.Files[i].Path, decoding);
                seconds[i] = (double)audio.AudioFrames / audio.SampleRate;
                if (audio.AudioFrames == 0) reasons[i] = "no audio samples";
            }
            catch (AudioDecodeException e)
            {
                reasons[i] = e.Reason;
            }
        });
        var usable = data.Files.Where((_, i) => !reasons.ContainsKey(i)).ToList();
        var unusable = reasons.OrderBy(r => r.Key).Select(r => new UnusableFile(data.Files[r.Key].Path, r.Value)).ToList();
        var classesLeft = usable.Select(f => f.Label).ToHashSet();
        var emptied = data.Files.Select(f => f.Label).Distinct().Where(c => !classesLeft.Contains(c));
        return (data with { Files = usable, Unusable = [.. data.Unusable, .. unusable], EmptyClasses = [.. data.EmptyClasses, .. emptied] },
                [.. seconds.Where((_, i) => !reasons.ContainsKey(i))]);
    }

    /// <summary>The groups a split keeps together: a file's speaker, or the file itself when its speaker is unknown.</summary>
    private static string Group(LabelledFile f) => f.Speaker.Length > 0 ? f.Speaker : "\0" + f.Path;

    /// <summary>
    /// Splits the way the model will be used, keeping about 75% of the files for training and every class in the
    /// validation and test sets. With at least <see cref="MinSpeakersForSpeakerSplit"/> known speakers, the test set holds
    /// whole speakers the model never hears (about
    /// <see cref="TestFraction"/> of the files), and so does the validation set when there are enough speakers;
    /// otherwise validation takes <see cref="ValidationFraction"/> of the training speakers' files, stratified by class.
    /// Without speakers, both are seeded stratified samples of the files. Files without a speaker go where the split
    /// puts them one by one.
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
            var groups = files.Select(Group).Distinct().Order(StringComparer.Ordinal).ToArray();
            rng.Shuffle(groups);
            var test = HoldOutGroups(files, groups, TestFraction, 1 - MinTrainFraction - ValidationFraction);
            if (test is not null)
            {
                var rest = groups.Where(s => !test.Contains(s)).ToArray();
                var testFiles = files.Where(f => test.Contains(Group(f))).ToList();
                var others = files.Where(f => !test.Contains(Group(f))).ToList();
                // Validation speakers too, if that still leaves MinTrainFraction of all files for training.
                var validation = HoldOutGroups(others, rest, ValidationFraction * files.Count / others.Count,
                    (others.Count - MinTrainFraction * files.Count) / others.Count);
                int Voices(IEnumerable<LabelledFile> set) => set.Where(f => f.Speaker.Length > 0).Select(f => f.Speaker).Distinct().Count();
                if (validation is not null)
                {
                    var validationFiles = others.Where(f => validation.Contains(Group(f))).ToList();
                    var trainFiles = others.Where(f => !validation.Contains(Group(f))).ToList();
                    return new DataSplit(trainFiles, validationFiles, testFiles,
                        $"Split by speaker ({data.SpeakerSource}): train {trainFiles.Count} files of {Voices(trainFiles)} speakers, " +
                        $"validation {validationFiles.Count} of {Voices(validationFiles)}, test {testFiles.Count} of {Voices(testFiles)}; validation and test voices are not in training.");
                }
                var (train, valid) = Stratified(others, ValidationFraction * files.Count / others.Count, rng);
                var testVoices = testFiles.Where(f => f.Speaker.Length > 0).Select(f => f.Speaker).Distinct().Order(StringComparer.Ordinal).ToList();
                return new DataSplit(train, valid, testFiles,
                    $"Split by speaker ({data.SpeakerSource}): test {testFiles.Count} files of {testVoices.Count} speaker(s) not in training ({string.Join(", ", testVoices.Take(5))}" +
                    $"{(testVoices.Count > 5 ? ", ..." : "")}); too few speakers to hold out more, so validation is {valid.Count} files of the training speakers " +
                    $"(stratified by class, seed {seed}); train {train.Count}.");
            }
        }
        var (pool, testSet) = Stratified(files, TestFraction, rng);
        var (trainSet, validationSet) = Stratified(pool, ValidationFraction / (1 - TestFraction), rng);
        return new DataSplit(trainSet, validationSet, testSet,
            $"Split by file, stratified by class (seed {seed}): {WhyByFile(data)}: train {trainSet.Count}, validation {validationSet.Count}, test {testSet.Count}. " +
            "Test voices may also be in training, so the test accuracy says little about new speakers.");
    }

    /// <summary>Why a split cannot hold whole speakers out.</summary>
    private static string WhyByFile(LabelledData data) => data.SpeakerSource is null
        ? $"no speakers found ({data.NoSpeakerReason}; a {SpeakerFileName} with columns file,speaker names them)"
        : data.SpeakerCount < MinSpeakersForSpeakerSplit
        ? $"{data.SpeakerCount} speakers ({data.SpeakerSource}) are too few to hold whole speakers out (fewer than {MinSpeakersForSpeakerSplit}), so every voice trains"
        : $"the {data.SpeakerCount} speakers ({data.SpeakerSource}) cannot give a test set with every class and keep {MinTrainFraction:P0} for training";

    /// <summary>
    /// <paramref name="k"/> folds for cross-validation, each a (train, test) pair whose test sets together hold every file
    /// once: whole speakers per fold when at least <see cref="MinSpeakersForSpeakerSplit"/> are known (speakers assigned
    /// greedily, largest first, to the fold with the fewest files), else files stratified by class. The sentence says which.
    /// </summary>
    /// <param name="data">The files.</param>
    /// <param name="k">Folds.</param>
    /// <param name="seed">Seeds the assignment.</param>
    /// <param name="minSpeakers">Fewest known speakers for folds by speaker (experiments hold out one of a few voices).</param>
    public static (List<(List<LabelledFile> train, List<LabelledFile> test)> folds, string description) Folds(LabelledData data, int k, int seed = 1,
        int minSpeakers = MinSpeakersForSpeakerSplit)
    {
        var files = data.Files;
        var rng = new Random(seed);
        var foldOf = new Dictionary<LabelledFile, int>();
        string how;
        if (data.SpeakerSource is not null && data.SpeakerCount >= minSpeakers)
        {
            var groups = files.GroupBy(Group).ToArray();
            rng.Shuffle(groups);
            var sizes = new int[k];
            foreach (var g in groups.OrderByDescending(g => g.Count()))
            {
                int fold = Array.IndexOf(sizes, sizes.Min());
                sizes[fold] += g.Count();
                foreach (var f in g) foldOf[f] = fold;
            }
            how = $"{k}-fold cross-validation by speaker ({data.SpeakerSource}): each fold's voices are not in its training";
        }
        else
        {
            foreach (var g in files.GroupBy(f => f.Label).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var shuffled = g.ToArray();
                rng.Shuffle(shuffled);
                int offset = rng.Next(k);
                for (int i = 0; i < shuffled.Length; i++) foldOf[shuffled[i]] = (i + offset) % k;
            }
            how = $"{k}-fold cross-validation by file, stratified by class (seed {seed}): {WhyByFile(data)}";
        }
        var folds = Enumerable.Range(0, k)
            .Select(i => (files.Where(f => foldOf[f] != i).ToList(), files.Where(f => foldOf[f] == i).ToList()))
            .Where(f => f.Item2.Count > 0).ToList();
        return (folds, how);
    }

    /// <summary>
    /// Groups (in the given, shuffled order) whose files make up at least <paramref name="fraction"/> of
    /// <paramref name="files"/> and cover every class, or null when that needs more than <paramref name="maxFraction"/>.
    /// </summary>
    private static HashSet<string>? HoldOutGroups(List<LabelledFile> files, string[] groups, double fraction, double maxFraction)
    {
        if (groups.Length < 2) return null;
        var classesOf = files.GroupBy(Group).ToDictionary(g => g.Key, g => (count: g.Count(), classes: g.Select(f => f.Label).ToHashSet()));
        var missing = files.Select(f => f.Label).ToHashSet();
        var chosen = new HashSet<string>();
        int taken = 0;
        foreach (var s in groups)
        {
            if (taken >= fraction * files.Count && missing.Count == 0) break;
            if (taken >= fraction * files.Count && !classesOf[s].classes.Overlaps(missing)) continue;
            chosen.Add(s);
            taken += classesOf[s].count;
            missing.ExceptWith(classesOf[s].classes);
        }
        bool groupsLeft = chosen.Count < groups.Length;
        return missing.Count == 0 && taken <= maxFraction * files.Count + 1e-9 && groupsLeft ? chosen : null;
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
