namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// Estimator side of the audio transforms, after ML.NET's one-to-one transformer pattern: the column names, the
/// estimator-level schema check that runs before any data, and <see cref="Fit"/>: describe the input column, resolve
/// what the options leave to the data, create the transformer and check it against the input schema. A transform
/// gives only what differs: its input kind, its output annotations and how it makes its transformer.
/// </summary>
/// <typeparam name="TTransformer">The transformer <see cref="Fit"/> returns.</typeparam>
public abstract class GpuAudioEstimatorBase<TTransformer> : IEstimator<TTransformer> where TTransformer : GpuAudioTransformerBase
{
    private protected readonly IHostEnvironment Env;
    private protected readonly string OutputColumnName;
    private protected readonly string InputColumnName;

    private protected GpuAudioEstimatorBase(IHostEnvironment env, string outputColumnName, string? inputColumnName)
    {
        Env = Contracts.CheckRef(env, nameof(env));
        Env.CheckNonEmpty(outputColumnName, nameof(outputColumnName));
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName ?? outputColumnName;
    }

    /// <summary>True when the input is a spectrum <c>[channels, bins, frames]</c>, false for audio <c>[channels, samples]</c>.</summary>
    private protected abstract bool InputIsSpectrum { get; }

    /// <summary>Bin count the options imply, for a variable-size spectrum input without a BinCount annotation.</summary>
    private protected virtual int? BinsFromOptions => null;

    /// <summary>Annotations the output column carries.</summary>
    private protected abstract IEnumerable<string> OutputAnnotationKinds { get; }

    /// <summary>Makes the transformer for an input column, resolving the options it leaves to the data.</summary>
    private protected abstract TTransformer Create(SignalColumn input);

    /// <summary>Checks the input column, resolves what the options leave to the data (sample rate, FFT length,
    /// spectrum type) and returns the transformer; nothing is learned.</summary>
    public TTransformer Fit(IDataView input)
    {
        Env.CheckValue(input, nameof(input));
        var transformer = Create(SignalColumn.Describe(Env, input.Schema, InputColumnName, InputIsSpectrum, BinsFromOptions));
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    /// <summary>True when every row's output has the same size whatever the input's length (a pooled embedding).</summary>
    private protected virtual bool OutputHasKnownSize => false;

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
        => OptionChecks.AudioOutputShape(Env, inputSchema, InputColumnName, OutputColumnName, InputIsSpectrum, OutputAnnotationKinds, OutputHasKnownSize);
}
