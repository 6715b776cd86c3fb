using System.Globalization;
using AudioClassification.Consumption;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Onnx;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Data;

namespace AudioClassification;

/// <summary>The sample's commands. <c>Run</c> returns the exit code; all output goes to the given writer.</summary>
public static class Cli
{
    public const string Usage = """
        usage:
          AudioClassification                       train on the bundled spoken words, evaluate on unseen voices, save, predict
          AudioClassification train --data DIR --model PATH [--time SECONDS] [--epochs N] [--seconds CLIP] [--no-refit]
                                    [--device cpu|cuda|auto] [--batch-size N] [--patience N]
                                    [--backbone cnn [--size small|large]] [--backbone bc-resnet [--size 1|1.5|2|3|6|8]]
                                    [--backbone speech-embedding [--fine-tune]] [--kapre [--augment noise|pink,speed,room]] [--mixup ALPHA]
          AudioClassification evaluate --model PATH --data DIR
          AudioClassification predict --model PATH FILE...
          AudioClassification export --model PATH --onnx PATH [--stft conv|operator]
          AudioClassification predict --onnx PATH FILE...          (ONNX Runtime only: no TorchSharp)
          AudioClassification spectrogram [--input FILE] [--output PNG]   (default: the bundled speech.wav, spectrogram.png)
          AudioClassification listen --model PATH [--input RAW] [--hop SECONDS] [--threshold P] [--background CLASS,...] [--no-gate]

        DIR holds one folder per class of audio files in any format the library decodes (WAV, FLAC, MP3, Ogg Vorbis/Opus,
        AIFF; any sample rate: resampled to 16 kHz), in the folder itself or in subfolders. Every file is decoded once
        first; those that fail are listed with the reason and left out. Clips are cut to one length (--seconds; by default
        long enough for 95% of the files, 1 to 3 s): shorter ones are centred, longer ones cut to their loudest part.
        Speakers come from DIR/speakers.csv (columns file,speaker), speaker folders (<class>/<speaker>/...), or names:
        Speech Commands' <speaker>_nohash_<n>.wav and <word>_<speaker>_nohash_<n>.wav, <class>_<speaker>_<n>.wav (FSDD),
        <speaker>_<anything>.wav. With 10 or more speakers, test and validation voices are kept out of training.
        train chooses the network from the data, as Model Builder does: a short trial of each candidate (the pretrained
        speech embedding with a logistic-regression head, the Small CNN, BC-ResNet) scored on the validation files, a
        leaderboard, the rest of --time (default 210 s) for the winner (a frozen embedding that wins is then fine-tuned
        from its fitted head, kept only if it does better on the validation files), its test on the held-out files, then
        the same configuration refit on every file for the saved model (--no-refit saves the one tested). With fewer than 30 files
        in a class, accuracy is measured by 5-fold cross-validation instead and every file trains the model.
        --backbone/--size/--kapre/--fine-tune pin the network; --epochs caps the epochs (alone: exactly that many).
        --kapre puts the log-mel front end inside the network (raw audio in), as Kapre does; then --augment adds
        background noise at 3-30 dB SNR (noise: the data's own _background_noise_ folder and _silence_ training files
        when it has them, else pink; pink: always generated), speed perturbation (0.9/1.0/1.1) and/or a synthetic room
        to each training batch on the device. --mixup mixes training examples and their labels.
        The report (MODEL.training.md), the training curves and the confusion matrix are written next to the model.
        listen reads raw 16-bit little-endian mono PCM at the model's rate (16 kHz) from standard input (or --input) and
        prints each word as it is heard, with its start and end; e.g. from a microphone:
          arecord -q -r 16000 -f S16_LE -c 1 -t raw | AudioClassification listen --model AudioClassifier.zip
          sox speech.wav -t raw -r 16000 -b 16 -e signed -c 1 - | AudioClassification listen --model AudioClassifier.zip
        Windows of the model's clip length every --hop (default 0.25 s) are scored, probabilities are averaged over three
        windows, and a word starts at --threshold (default 0.5). Background classes absorb noise and other words and are
        never reported: those named _like_this_, or the ones --background names. A voice-activity gate passes over windows
        in which nothing stands out from the background level (--no-gate scores every window).
        export writes the model as one ONNX file that starts from the decoded samples (front end, network and class
        names inside; decoding stays outside); --stft conv (default) writes the STFT as a convolution with the DFT basis
        (opset 13), --stft operator as ONNX's STFT (opset 17). predict --onnx decodes each file with the settings the
        file records and runs it with ONNX Runtime.
        """;

    public static string BundledData => Path.Combine(AppContext.BaseDirectory, "Data", "words");

    // Before Commands, which reads it during static initialisation.
    private static readonly string[] TrainOptions = ["data", "model", "epochs", "time", "device", "size", "kapre", "batch-size", "patience", "backbone", "fine-tune",
        "augment", "mixup", "no-refit", "seconds"];

    /// <summary>The options each command accepts; anything else is refused, so a misspelt option never runs the defaults.</summary>
    private static readonly Dictionary<string, (string[] options, bool files)> Commands = new()
    {
        ["demo"] = (TrainOptions, false),
        ["train"] = (TrainOptions, false),
        ["evaluate"] = (["model", "data"], false),
        ["predict"] = (["model", "onnx"], true),
        ["export"] = (["model", "onnx", "stft"], false),
        ["spectrogram"] = (["input", "output"], false),
        ["listen"] = (["model", "input", "hop", "threshold", "ignore", "background", "no-gate"], false),
        ["help"] = ([], false),
    };

    public static int Run(string[] args, TextWriter output)
    {
        try
        {
            string command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "demo";
            var rest = command == "demo" ? args : args[1..];
            if (!Commands.TryGetValue(command, out var accepted))
            {
                output.WriteLine($"Unknown command '{command}'.");
                output.WriteLine(Usage);
                return 2;
            }
            var options = Options.Parse(rest, command, accepted);
            switch (command)
            {
                case "demo": return Demo(options, output);
                case "train": return Train(options, output);
                case "evaluate": return Evaluate(options, output);
                case "predict": return Predict(options, output);
                case "export": return Export(options, output);
                case "spectrogram": return Spectrogram(options, output);
                case "listen": return Listen(options, output);
                default: output.WriteLine(Usage); return 0;
            }
        }
        catch (UsageException e)
        {
            output.WriteLine(e.Message);
            output.WriteLine(Usage);
            return 2;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or InvalidOperationException)
        {
            output.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    private static int Demo(Options o, TextWriter output)
    {
        output.WriteLine($"Kapre.MLNet audio classification sample: spoken words in {BundledData}");
        o.Values.TryAdd("data", BundledData);
        o.Values.TryAdd("model", Path.GetFullPath("AudioClassifier.zip"));
        int code = Train(o, output, predictExamples: 6);
        return code;
    }

    private static int Train(Options o, TextWriter output) => Train(o, output, predictExamples: 0);

    /// <summary>The files of the data's _background_noise_ folder, decoded at 16 kHz; those that fail are listed and left out.</summary>
    private static List<float[]> NoiseRecordings(LabelledData data, TextWriter output)
    {
        var recordings = new List<float[]>();
        foreach (var path in data.NoiseFiles)
        {
            try
            {
                recordings.Add(AudioDecoder.Decode(path, new AudioDecodeOptions { SampleRate = 16000 }).Samples);
            }
            catch (AudioDecodeException e)
            {
                output.WriteLine($"Left out of the background noise: {path}: {e.Reason}");
            }
        }
        if (data.NoiseFiles.Count > 0)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Background noise: {recordings.Count} recordings in {Dataset.NoiseFolder} ({recordings.Sum(r => (double)r.Length) / 16000:F0} s), and the training files of {Dataset.SilenceClass} if it is a class."));
        return recordings;
    }

    private static int Train(Options o, TextWriter output, int predictExamples)
    {
        string data = o.Required("data"), modelPath = Path.GetFullPath(o.Required("model"));
        var defaults = new ModelTraining.Settings();
        var settings = new ModelTraining.Settings
        {
            Epochs = o.Int("epochs") ?? defaults.Epochs,
            // --epochs alone means exactly that many epochs; --time alone a budget; both, a budget and a cap.
            MaxTrainingTime = o.Int("time") is int seconds ? TimeSpan.FromSeconds(seconds)
                : o.Int("epochs") is null ? defaults.MaxTrainingTime : null,
            BatchSize = o.Int("batch-size") ?? defaults.BatchSize,
            // With a time budget the rate anneals to its end, and the last, low-rate epochs are often the best: no early
            // stop unless asked for.
            Patience = o.Int("patience") ?? (o.Int("epochs") is not null && o.Int("time") is null ? defaults.Patience : 0),
            Refit = !o.Flag("no-refit"),
            ClipSeconds = o.Double("seconds"),
            Pinned = PinnedCandidate(o),
        };
        if (o.Get("augment") is string augment)
        {
            if (settings.Pinned is not { FrontEndInNetwork: true } and not { FineTune: true })
                throw new UsageException("--augment works on raw audio: add --kapre (or --backbone speech-embedding --fine-tune).");
            var kinds = augment.Split(',', StringSplitOptions.TrimEntries);
            var unknown = kinds.Except(["noise", "pink", "speed", "room"]).ToArray();
            if (unknown.Length > 0 || kinds.Length == 0 || (kinds.Contains("noise") && kinds.Contains("pink")))
                throw new UsageException($"--augment takes a comma-separated list of noise (or pink), speed, room; got '{augment}'.");
            settings.AudioAugmentation = new AudioAugmentationOptions
            {
                BackgroundNoise = kinds.Contains("noise") || kinds.Contains("pink"), SpeedPerturbation = kinds.Contains("speed"), Reverberation = kinds.Contains("room"),
            };
            settings.NoiseFromData = kinds.Contains("noise");
        }
        if (o.Get("mixup") is string mixup)
            settings.MixupAlpha = double.TryParse(mixup, NumberStyles.Float, CultureInfo.InvariantCulture, out double alpha) && alpha > 0 && double.IsFinite(alpha)
                ? alpha : throw new UsageException($"--mixup must be a positive number (Beta(a, a); 0.2 is common), got '{mixup}'.");
        (settings.GpuDeviceId, settings.FallbackToCpu) = (o.Get("device") ?? "auto") switch
        {
            "cpu" => ((int?)null, false),
            "cuda" => (0, false),
            "auto" => (0, true),
            var d => throw new UsageException($"--device must be cpu, cuda or auto, got '{d}'."),
        };
        if (settings.ClipSeconds is > 30) throw new UsageException($"--seconds is the clip length, at most 30; got {settings.ClipSeconds}.");

        var started = System.Diagnostics.Stopwatch.StartNew();
        var (dataset, clipSeconds) = LoadChecked(data, settings.ClipSeconds, output);
        if (settings.NoiseFromData) settings.NoiseFiles = NoiseRecordings(dataset, output);
        output.WriteLine(SampleDevice.Describe(settings.GpuDeviceId, settings.FallbackToCpu));
        var plan = TrainingPlan.Make(dataset, settings, clipSeconds, output);
        var outcome = plan.Run(output);
        output.WriteLine($"Trained in {started.Elapsed.TotalSeconds:F0} s (decoding and checking the files included).");

        var result = outcome.Saved;
        result.Context.Model.Save(result.Model, Dataset.ToDataView(result.Context, dataset.Files.Take(1)).Schema, modelPath);
        output.WriteLine($"Saved {outcome.SavedDescription} to {modelPath} ({new FileInfo(modelPath).Length / 1024.0:F0} KiB).");
        string report = TrainingPlan.ReportPath(modelPath);
        File.WriteAllText(report, outcome.Report);
        output.WriteLine($"Training report: {report}");
        Plots.AfterTraining(modelPath, outcome, output);

        if (predictExamples > 0 && outcome.Examples.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("Predictions on held-out files, through the consumption code (Consumption/AudioClassifierModel.cs):");
            AudioClassifierModel.ModelPath = modelPath;
            var names = AudioClassifierModel.ClassNames;
            var examples = outcome.Examples;
            foreach (var file in examples.Where((_, i) => i % Math.Max(1, examples.Count / predictExamples) == 0).Take(predictExamples))
                WritePrediction(output, file.Path, AudioClassifierModel.Predict(new ModelInput { Path = file.Path }), names, file.Label);
        }
        return 0;
    }

    /// <summary>The configuration the command line pins (--backbone, --size, --kapre, --fine-tune), or null to let the data choose.</summary>
    private static Candidate? PinnedCandidate(Options o)
    {
        string? backbone = o.Get("backbone"), size = o.Get("size");
        bool kapre = o.Flag("kapre"), fineTune = o.Flag("fine-tune");
        if (backbone is null && size is null && !kapre && !fineTune) return null;
        switch (backbone ?? "cnn")
        {
            case "speech-embedding":
                if (kapre || size is not null)
                    throw new UsageException("--kapre and --size are for the cnn and bc-resnet backbones; the speech embedding has its own front end and size.");
                return fineTune ? ModelSelection.FineTunedEmbedding : ModelSelection.FrozenEmbedding;
            case "cnn":
                if (fineTune) throw new UsageException("--fine-tune needs --backbone speech-embedding.");
                var cnn = (size ?? "small") switch
                {
                    "small" => ModelSelection.SmallCnn,
                    "large" => ModelSelection.LargeCnn,
                    var s => throw new UsageException($"--size must be small or large for the cnn backbone, got '{s}'."),
                };
                return kapre ? cnn with { Name = cnn.Name + " (front end in the network)", FrontEndInNetwork = true } : cnn;
            case "bc-resnet":
                if (fineTune) throw new UsageException("--fine-tune needs --backbone speech-embedding.");
                double tau = 3;
                if (size is not null && !(double.TryParse(size, NumberStyles.Float, CultureInfo.InvariantCulture, out tau) && new[] { 1, 1.5, 2, 3, 6, 8 }.Contains(tau)))
                    throw new UsageException($"--size must be 1, 1.5, 2, 3, 6 or 8 (BC-ResNet's width) for the bc-resnet backbone, got '{size}'.");
                var bc = new Candidate($"BC-ResNet-{tau.ToString(CultureInfo.InvariantCulture)}", AudioBackbone.BcResNet, BcResNetSize: BcResNet.SizeOf(tau));
                return kapre ? bc with { Name = bc.Name + " (front end in the network)", FrontEndInNetwork = true } : bc;
            case var b:
                throw new UsageException($"--backbone must be cnn, bc-resnet or speech-embedding, got '{b}'.");
        }
    }

    /// <summary>
    /// Lists the data folder, decodes every file once (leaving out, and listing, those that fail), says what was found,
    /// and chooses the clip length.
    /// </summary>
    private static (LabelledData data, double clipSeconds) LoadChecked(string folder, double? clipSeconds, TextWriter output)
    {
        var listed = Dataset.Load(folder);
        var (data, seconds) = Dataset.Check(listed, new AudioDecodeOptions { SampleRate = 16000 });
        output.WriteLine($"Data: {data.Files.Count} files in {data.Classes.Length} classes from {Path.GetFullPath(folder)}; " +
                         (data.SpeakerSource is null ? "speakers unknown" : $"{data.SpeakerCount} speakers from {data.SpeakerSource}") + ".");
        ReportUnusable(data, output);
        if (data.Classes.Length < 2)
            throw new InvalidDataException($"'{folder}' has {data.Classes.Length} class folder(s) with usable audio; training needs at least two.");
        double clip = clipSeconds ?? ModelSelection.ClipSecondsFor(seconds);
        int longer = seconds.Count(s => s > clip + 1e-3);
        string length = clip.ToString("0.0#", CultureInfo.InvariantCulture);
        output.WriteLine($"Clips: {length} s{(clipSeconds is null ? " (95% of the files are at most that long)" : "")}; shorter ones are centred in it" +
            (longer > 0 ? $", and {longer} longer one(s) are cut to their loudest {length} s." : "."));
        return (data, clip);
    }

    /// <summary>Lists what was left out: files that do not decode (with the decoder's reason) and class folders without a usable file.</summary>
    internal static void ReportUnusable(LabelledData data, TextWriter output)
    {
        if (data.Unusable.Count > 0)
        {
            output.WriteLine($"Left out {data.Unusable.Count} file(s) that cannot be decoded:");
            foreach (var u in data.Unusable.Take(20)) output.WriteLine($"  {u.Path}: {u.Reason}");
            if (data.Unusable.Count > 20) output.WriteLine($"  ... and {data.Unusable.Count - 20} more.");
        }
        foreach (var c in data.EmptyClasses)
            output.WriteLine($"Left out class folder '{c}': it holds no file that decodes.");
    }

    private static int Evaluate(Options o, TextWriter output)
    {
        string modelPath = o.Required("model"), data = o.Required("data");
        var ml = new MLContext(1) { GpuDeviceId = 0, FallbackToCpu = true };
        var model = ml.Model.Load(modelPath, out _);
        AudioClassifierModel.ModelPath = Path.GetFullPath(modelPath);
        var classNames = AudioClassifierModel.ClassNames;
        var (checkedData, _) = Dataset.Check(Dataset.Load(data), new AudioDecodeOptions { SampleRate = 16000 });
        ReportUnusable(checkedData, output);
        var files = checkedData.Files;
        var unknown = files.Select(f => f.Label).Distinct().Except(classNames).ToArray();
        if (unknown.Length > 0)
            throw new InvalidDataException($"The data has classes the model does not know: {string.Join(", ", unknown)} (it knows {string.Join(", ", classNames)}).");
        // Keys in the model's class order.
        var keys = ml.Data.LoadFromEnumerable(classNames.Select(c => new { Label = c }));
        var labelMap = ml.Transforms.Conversion.MapValueToKey("Label", "Label", keyData: keys).Fit(Dataset.ToDataView(ml, files));
        output.WriteLine($"Evaluating {modelPath} on {files.Count} files in {data}:");
        ModelTraining.Evaluate(ml, model, labelMap, Dataset.ToDataView(ml, files), output);
        return 0;
    }

    private static int Export(Options o, TextWriter output)
    {
        string modelPath = o.Required("model"), onnxPath = Path.GetFullPath(o.Required("onnx"));
        var form = (o.Get("stft") ?? "conv") switch
        {
            "conv" => OnnxStftForm.Convolution,
            "operator" => OnnxStftForm.StftOperator,
            var f => throw new UsageException($"--stft must be conv or operator, got '{f}'."),
        };
        var ml = new MLContext(1);
        var model = ml.Model.Load(modelPath, out _);
        try
        {
            AudioOnnxExport.Export(model, onnxPath, new AudioOnnxExportOptions { StftForm = form });
        }
        catch (NotSupportedException e)
        {
            output.WriteLine($"error: {modelPath} cannot be exported: {e.Message}");
            return 1;
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
        int opset = form == OnnxStftForm.Convolution ? AudioOnnxExport.ConvolutionOpset : AudioOnnxExport.StftOperatorOpset;
        output.WriteLine($"Exported {modelPath} to {onnxPath} ({new FileInfo(onnxPath).Length / 1024.0:F0} KiB, ONNX opset {opset}); input: decoded samples (see Consumption/AudioClassifierOnnxModel.cs).");
        return 0;
    }

    private static int Predict(Options o, TextWriter output)
    {
        if (o.Get("onnx") is string onnx)
        {
            if (o.Get("model") is not null) throw new UsageException("predict takes --model (a zip) or --onnx (an exported file), not both.");
            return PredictOnnx(onnx, o.Positional, output);
        }
        AudioClassifierModel.ModelPath = Path.GetFullPath(o.Required("model"));
        if (o.Positional.Count == 0) throw new UsageException("predict needs at least one FILE.");
        var names = AudioClassifierModel.ClassNames;
        int failures = 0;
        foreach (var file in o.Positional)
        {
            try
            {
                WritePrediction(output, file, AudioClassifierModel.Predict(new ModelInput { Path = Path.GetFullPath(file) }), names, null);
            }
            catch (AudioDecodeException e)
            {
                output.WriteLine($"{file}: {e.Message}");
                failures++;
            }
        }
        return failures == 0 ? 0 : 1;
    }

    /// <summary>predict --onnx: ONNX Runtime alone (no TorchSharp), decoding with the settings the file records.</summary>
    private static int PredictOnnx(string path, List<string> files, TextWriter output)
    {
        if (files.Count == 0) throw new UsageException("predict needs at least one FILE.");
        using var model = new AudioClassifierOnnxModel(Path.GetFullPath(path));
        int failures = 0;
        foreach (var file in files)
        {
            try
            {
                WritePrediction(output, file, model.Predict(Path.GetFullPath(file)), model.ClassNames, null);
            }
            catch (AudioDecodeException e)
            {
                output.WriteLine($"{file}: {e.Message}");
                failures++;
            }
        }
        return failures == 0 ? 0 : 1;
    }

    private static void WritePrediction(TextWriter output, string file, ModelOutput prediction, string[] names, string? truth)
    {
        var top = prediction.Score.Select((s, i) => (s, name: names[i])).OrderByDescending(p => p.s).Take(3)
            .Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.name} {p.s:P1}"));
        string mark = truth is null ? "" : truth == prediction.PredictedLabel ? "  (correct)" : $"  (wrong: it is '{truth}')";
        output.WriteLine($"{Path.GetFileName(file)}: {prediction.PredictedLabel}{mark}   [{string.Join(", ", top)}]");
    }

    private static int Spectrogram(Options o, TextWriter output)
    {
        string input = Path.GetFullPath(o.Get("input") ?? Path.Combine(AppContext.BaseDirectory, "Data", "speech.wav"));
        string png = o.Get("output") ?? "spectrogram.png";
        var ml = new MLContext(1);
        var files = ml.Data.LoadFromEnumerable(new[] { new ModelInput { Path = input } });
        var model = ml.Transforms.Audio.LoadAudio("Audio", "Path", ModelTraining.Loading)
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("LogMel", "Audio", ModelTraining.FrontEnd)).Fit(files);
        var scored = model.Transform(files);
        var dims = ((VectorDataViewType)scored.Schema["LogMel"].Type).Dimensions;
        var values = scored.GetColumn<float[]>("LogMel").First();
        Plots.Spectrogram(png, values, dims[0], dims[1], ModelTraining.FrontEnd, ModelTraining.Loading.SampleRate,
            $"Log-mel spectrogram of {Path.GetFileName(input)} (1 s, as the model hears it)");
        output.WriteLine($"{Path.GetFileName(input)}: log-mel [{dims[0]} mels x {dims[1]} frames], {values.Min():F1} to {values.Max():F1} dB -> {Path.GetFullPath(png)}");
        return 0;
    }

    private static int Listen(Options o, TextWriter output)
    {
        if (o.Get("ignore") is not null && o.Get("background") is not null)
            throw new UsageException("--ignore is the older name of --background: give one of them.");
        var ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
        var model = ml.Model.Load(Path.GetFullPath(o.Required("model")), out _);
        var settings = new StreamingClassifierOptions();
        if (o.Double("hop") is double hop) settings.HopSeconds = hop;
        if (o.Double("threshold") is double threshold)
        {
            if (threshold > 1) throw new UsageException($"--threshold is a probability, at most 1; got {threshold}.");
            settings.Threshold = threshold;
            settings.ReleaseThreshold = Math.Min(settings.ReleaseThreshold, threshold);
        }
        if ((o.Get("background") ?? o.Get("ignore")) is string background)
        {
            // Named background classes replace the default rule (names starting with '_'), as the option's help says.
            var names = background.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            settings.IgnoredClasses = names;
        }
        if (o.Flag("no-gate")) settings.VoiceActivityGate = null;
        using var listener = new StreamingAudioClassifier(ml, model, settings);
        string? input = o.Get("input");
        using var pcm = input is null or "-" ? Console.OpenStandardInput() : File.OpenRead(input);
        output.WriteLine($"Listening for {string.Join(", ", listener.ReportedClasses)} " +
            $"in 16-bit mono PCM at {listener.SampleRate} Hz from {(input is null or "-" ? "standard input" : input)} (Ctrl+C to stop).");
        int heard = 0;
        foreach (var d in listener.ListenAsync(pcm).ToBlockingEnumerable())
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{d.Start.TotalSeconds,8:F2} - {d.End.TotalSeconds,6:F2} s  {d.Label,-12} {d.Score,6:P0}  (peak at {d.Peak.TotalSeconds:F2} s)"));
            output.Flush();
            heard++;
        }
        double audio = listener.Received.TotalSeconds, compute = listener.ComputeTime.TotalSeconds;
        long windows = listener.ScoredWindows + listener.SkippedWindows;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{heard} word(s) in {audio:F1} s of audio; scoring took {compute:F1} s{(compute >= 0.05 ? $" ({audio / compute:F0}x real time)" : "")}; " +
            $"{listener.ScoredWindows} of {windows} windows scored{(listener.SkippedWindows > 0 ? $", {listener.SkippedWindows} passed over as background by the voice-activity gate" : "")}."));
        return 0;
    }

    private sealed class UsageException(string message) : Exception(message);

    /// <summary>--name value pairs, --flags and positional arguments.</summary>
    private sealed class Options
    {
        public Dictionary<string, string> Values { get; } = [];
        public HashSet<string> Flags { get; } = [];
        public List<string> Positional { get; } = [];
        private static readonly HashSet<string> FlagNames = ["kapre", "fine-tune", "no-refit", "no-gate"];

        public static Options Parse(string[] args, string command, (string[] options, bool files) accepted)
        {
            var o = new Options();
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i].StartsWith('-'))
                {
                    string name = args[i].TrimStart('-');
                    if (!accepted.options.Contains(name))
                        throw new UsageException(accepted.options.Length == 0
                            ? $"'{command}' takes no options; got '{args[i]}'."
                            : $"Unknown option '{args[i]}' for '{command}'; it takes {string.Join(", ", accepted.options.Select(n => "--" + n))}.");
                    if (!args[i].StartsWith("--"))
                        throw new UsageException($"Options start with two dashes: '--{name}', not '{args[i]}'.");
                    if (o.Values.ContainsKey(name) || o.Flags.Contains(name))
                        throw new UsageException($"--{name} is given twice.");
                    if (FlagNames.Contains(name)) o.Flags.Add(name);
                    else if (i + 1 < args.Length) o.Values[name] = args[++i];
                    else throw new UsageException($"--{name} needs a value.");
                }
                else if (accepted.files) o.Positional.Add(args[i]);
                else throw new UsageException($"'{command}' takes no file arguments; got '{args[i]}'.");
            }
            return o;
        }

        public string? Get(string name) => Values.GetValueOrDefault(name);
        public string Required(string name) => Get(name) ?? throw new UsageException($"--{name} is required.");
        public bool Flag(string name) => Flags.Contains(name);
        public double? Double(string name) => Get(name) is string s
            ? double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && double.IsFinite(v) ? v
              : throw new UsageException($"--{name} must be a positive number, got '{s}'.")
            : null;
        public int? Int(string name) => Get(name) is string s
            ? int.TryParse(s, out int v) && v > 0 ? v : throw new UsageException($"--{name} must be a positive integer, got '{s}'.")
            : null;
    }
}
