namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// A fused front end made of its parts, STFT → mel → [decibels], for the fused transforms (MelSpectrogramGpu,
/// MfccGpu): each part checks, saves and loads itself; this holds what they share (one FFT length, sample rate and
/// batch size), the filterbank in use, the output layout and the module.
/// </summary>
internal sealed class LogMelParts
{
    private const string FilterbankStream = "Filterbank.bin";
    private readonly float[]? _savedFilterbank;

    public GpuStftOptions Stft { get; }
    public GpuMelOptions Mel { get; }
    public GpuDecibelOptions? Decibel { get; }

    /// <summary>The parts as fitted (copies are kept).</summary>
    public LogMelParts(GpuStftOptions stft, GpuMelOptions resolvedMel, GpuDecibelOptions? decibel)
    {
        Stft = stft.Clone();
        Mel = resolvedMel.Clone();
        Decibel = decibel?.Clone();
    }

    private LogMelParts(GpuStftOptions stft, GpuMelOptions mel, GpuDecibelOptions? decibel, float[] filterbank)
    {
        (Stft, Mel, Decibel, _savedFilterbank) = (stft, mel, decibel, filterbank);
    }

    // *** Binary format ***
    // <STFT settings>
    // <mel settings>
    // byte: 1 when converted to decibels (only where the owner's format may leave the decibels out), then <decibel settings>
    // stream Filterbank.bin: <filterbank stream> (the mel filterbank values in use)
    public static LogMelParts Load(IHost host, ModelLoadContext ctx, int? batchSize, bool optionalDecibels)
    {
        var stft = GpuStftOptions.Load(host, ctx.Reader);
        var mel = GpuMelOptions.Load(host, ctx.Reader);
        bool toDb = true;
        if (optionalDecibels)
        {
            byte flag = ctx.Reader.ReadByte();
            host.CheckDecode(flag <= 1);
            toDb = flag == 1;
        }
        var db = toDb ? GpuDecibelOptions.Load(host, ctx.Reader) : null;
        host.CheckDecode(mel.FftLength == stft.FftLength, "The model's mel and STFT settings disagree on the FFT length.");
        stft.BatchSize = mel.BatchSize = batchSize;
        if (db is not null) db.BatchSize = batchSize;
        stft.SampleRate = mel.SampleRate;
        int rows = stft.FftLength / 2 + 1, cols = mel.MelBinCount;
        float[]? fb = null;
        if (!ctx.TryLoadBinaryStream(FilterbankStream, r => fb = GpuMelOptions.LoadFilterbank(host, r, rows, cols)))
            throw host.ExceptDecode($"The model has no {FilterbankStream} stream.");
        return new LogMelParts(stft, mel, db, fb!);
    }

    /// <summary>Writes the parts, then <paramref name="melspec"/>'s filterbank (the values in use, learned or not).</summary>
    public void Save(ModelSaveContext ctx, bool optionalDecibels, MelSpectrogram melspec)
    {
        Stft.Save(ctx.Writer);
        Mel.Save(ctx.Writer);
        if (optionalDecibels) ctx.Writer.Write((byte)(Decibel is null ? 0 : 1));
        Decibel?.Save(ctx.Writer);
        ctx.SaveBinaryStream(FilterbankStream, w => GpuMelOptions.SaveFilterbank(w, melspec.mel.Filterbank));
    }

    /// <summary>Frames per input length and the output's annotations for an audio column, checking its sample rate
    /// (against the option named <paramref name="sampleRateOption"/>) and that a fixed length holds a frame.</summary>
    public (Func<int, int> frames, Dictionary<string, int> annotations) Layout(IHost host, SignalColumn input, string column, string sampleRateOption)
    {
        int sampleRate = input.ResolveSampleRate(host, column, Mel.SampleRate, sampleRateOption);
        var (_, frames, annotations) = Stft.Describe(sampleRate);
        if (input.IsFixedSize && frames(input.Length) < 1)
            throw host.ExceptSchemaMismatch("inputSchema", "input", column,
                $"at least one frame of {Stft.EffectiveWindowLength} samples", $"{input.Length} samples per channel");
        if (Decibel is not null) annotations.Remove(AudioAnnotationKinds.SpectrumPower);
        return (frames, annotations);
    }

    /// <summary>The fused module, with the saved filterbank when loaded from a model.</summary>
    public MelSpectrogram CreateModule()
    {
        var mel = Mel.CreateLayer();
        GpuMelOptions.LoadInto(mel, _savedFilterbank);
        return new MelSpectrogram("melspectrogram", Stft.CreateLayer(), mel, Decibel?.CreateLayer());
    }
}
