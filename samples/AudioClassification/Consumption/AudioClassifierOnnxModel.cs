// Consumption code, ONNX Runtime variant: copy this file into an app that only predicts. It needs the
// Microsoft.ML.OnnxRuntime and Kapre.MLNet.AudioIO packages only: no ML.NET, no TorchSharp, no libtorch. The .onnx file
// (made by `AudioClassification export`) holds the spectrogram front end, the network and the class names; decoding
// stays outside the graph and is done here with the settings the file records.
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AudioClassification.Consumption;

/// <summary>Loads an exported .onnx model once and predicts files with ONNX Runtime.</summary>
public sealed class AudioClassifierOnnxModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input, _score;
    private readonly AudioDecodeOptions _decoding;
    private readonly int _samples, _channels;
    private readonly bool _mono;

    /// <summary>Class names in score order.</summary>
    public string[] ClassNames { get; }

    /// <summary>Opens <paramref name="path"/> and reads its decoding settings and class names.</summary>
    /// <exception cref="InvalidDataException">The file is not a Kapre.MLNet audio model.</exception>
    public AudioClassifierOnnxModel(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No ONNX model at {path}.", path);
        try
        {
            _session = new InferenceSession(path);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{path}: ONNX Runtime cannot open it: {e.Message}", e);
        }
        try
        {
            var meta = _session.ModelMetadata.CustomMetadataMap;
            string Read(string key) => meta.TryGetValue(key, out var v) ? v
                : throw new InvalidDataException($"{path}: not an exported Kapre.MLNet audio model (no '{key}' in its metadata).");
            _input = Read("kapre.input");
            _score = Read("kapre.score");
            int rate = int.Parse(Read("kapre.sample_rate"), CultureInfo.InvariantCulture);
            double seconds = double.Parse(Read("kapre.duration_seconds"), CultureInfo.InvariantCulture);
            // Files written before multi-channel export have neither key: mono.
            _mono = !meta.TryGetValue("kapre.mono", out var mono) || mono == "true";
            _channels = meta.TryGetValue("kapre.channels", out var channels) ? int.Parse(channels, CultureInfo.InvariantCulture) : 1;
            // The same settings LoadAudio decoded with when the model was trained.
            _decoding = new AudioDecodeOptions { SampleRate = rate, Mono = _mono, DurationSeconds = seconds, Crop = Enum.Parse<CropAlignment>(Read("kapre.crop")),
                Pad = meta.TryGetValue("kapre.pad", out var pad) ? Enum.Parse<PadAlignment>(pad) : PadAlignment.Start };
            _samples = (int)Math.Round(seconds * rate);
            ClassNames = JsonSerializer.Deserialize<string[]>(Read("kapre.classes")) ?? [];
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    /// <summary>Decodes <paramref name="path"/> and predicts its class.</summary>
    /// <exception cref="AudioDecodeException">The file cannot be decoded (the message names it).</exception>
    public ModelOutput Predict(string path)
    {
        var audio = AudioDecoder.Decode(path, _decoding);
        if (audio.Channels != _channels)
            throw new AudioDecodeException(path, $"it has {audio.Channels} channel(s) but the model takes {_channels}");
        // Planar [channels, samples], as LoadAudio's column: (1, samples) for a mono model, (1, channels, samples) otherwise.
        var input = _mono
            ? new DenseTensor<float>(audio.Samples.AsMemory(0, _samples), [1, _samples])
            : new DenseTensor<float>(audio.Samples.AsMemory(0, _channels * _samples), [1, _channels, _samples]);
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor(_input, input)], [_score]);
        var scores = results[0].AsTensor<float>().ToArray();
        int best = 0;
        for (int i = 1; i < scores.Length; i++) if (scores[i] > scores[best]) best = i; // first maximum, as ML.NET
        return new ModelOutput { PredictedLabel = ClassNames[best], Score = scores };
    }

    /// <summary>Frees the session.</summary>
    public void Dispose() => _session.Dispose();
}
