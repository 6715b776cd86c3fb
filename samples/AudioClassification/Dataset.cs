using Microsoft.ML;

namespace AudioClassification;

/// <summary>One labelled audio file.</summary>
public sealed class LabelledFile
{
    /// <summary>Absolute path of the file.</summary>
    public string Path { get; set; } = "";
    /// <summary>Class: the name of the folder the file is in.</summary>
    public string Label { get; set; } = "";
    /// <summary>Who speaks: the file name up to its last '_' (e.g. "en-gb-scotland-m3" in "en-gb-scotland-m3_yes.wav"), or the file name.</summary>
    public string Speaker { get; set; } = "";
}

/// <summary>Folder-per-class datasets, as ML.NET's image samples and Model Builder lay them out: DIR/&lt;class&gt;/*.wav.</summary>
public static class Dataset
{
    /// <summary>Lists the WAV files under each class folder of <paramref name="root"/>.</summary>
    public static List<LabelledFile> Load(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Data folder '{root}' does not exist.");
        var files = new List<LabelledFile>();
        foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            foreach (var file in Directory.GetFiles(dir, "*.wav").Order(StringComparer.Ordinal))
            {
                string name = System.IO.Path.GetFileNameWithoutExtension(file);
                int cut = name.LastIndexOf('_');
                files.Add(new LabelledFile { Path = System.IO.Path.GetFullPath(file), Label = System.IO.Path.GetFileName(dir), Speaker = cut > 0 ? name[..cut] : name });
            }
        if (files.Select(f => f.Label).Distinct().Count() < 2)
            throw new InvalidDataException($"'{root}' must hold at least two class folders with .wav files; found {files.Count} files in {files.Select(f => f.Label).Distinct().Count()} folder(s).");
        return files;
    }

    /// <summary>
    /// Splits by speaker, so that the test and validation sets hold voices the model never heard (how it will be
    /// used): about <paramref name="testFraction"/> and <paramref name="validationFraction"/> of the speakers, chosen
    /// with <paramref name="seed"/>. With fewer than 5 speakers the split is by file instead.
    /// </summary>
    public static (List<LabelledFile> train, List<LabelledFile> validation, List<LabelledFile> test) SplitBySpeaker(
        List<LabelledFile> files, double testFraction = 0.2, double validationFraction = 0.1, int seed = 1)
    {
        var rng = new Random(seed);
        var speakers = files.Select(f => f.Speaker).Distinct().Order(StringComparer.Ordinal).ToArray();
        if (speakers.Length < 5)
        {
            var shuffled = files.ToArray();
            rng.Shuffle(shuffled);
            int nTest = Math.Max(1, (int)Math.Round(shuffled.Length * testFraction)), nVal = Math.Max(1, (int)Math.Round(shuffled.Length * validationFraction));
            return ([.. shuffled.Skip(nTest + nVal)], [.. shuffled.Skip(nTest).Take(nVal)], [.. shuffled.Take(nTest)]);
        }
        rng.Shuffle(speakers);
        int test = Math.Max(1, (int)Math.Round(speakers.Length * testFraction));
        int validation = Math.Max(1, (int)Math.Round(speakers.Length * validationFraction));
        var testSet = speakers.Take(test).ToHashSet();
        var validationSet = speakers.Skip(test).Take(validation).ToHashSet();
        return (files.Where(f => !testSet.Contains(f.Speaker) && !validationSet.Contains(f.Speaker)).ToList(),
                files.Where(f => validationSet.Contains(f.Speaker)).ToList(),
                files.Where(f => testSet.Contains(f.Speaker)).ToList());
    }

    /// <summary>A data view of the files: columns Path, Label, Speaker.</summary>
    public static IDataView ToDataView(MLContext ml, IEnumerable<LabelledFile> files) => ml.Data.LoadFromEnumerable(files);
}
