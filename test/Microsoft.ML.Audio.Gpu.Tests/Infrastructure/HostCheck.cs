using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Training;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// Issue 30's check, run in a second process (<c>dotnet exec Microsoft.ML.Audio.Gpu.Tests.dll host-check OUTPUT
/// default|opt-in</c>): a program that uses the library (a mel pipeline, one training epoch, a single-row prediction)
/// and reports what it changed in its host: the C library's environment at the end (read through libc's
/// <c>environ</c>, which <c>setenv</c> changes and .NET's <c>Environment</c> does not see) against the one the process
/// started with (<c>/proc/self/environ</c>), and libtorch's NNPACK setting.
/// With <c>opt-in</c> the program first calls <see cref="KapreRuntime.Configure"/> with every setting.
/// </summary>
public static class HostCheck
{
    public const string Command = "host-check";

    public static int Run(string outputPath, string mode)
    {
        if (mode is not ("default" or "opt-in")) throw new ArgumentException($"mode must be default or opt-in, got: {mode}", nameof(mode));
        // The environment the process was started with (the kernel keeps it at /proc/self/environ; setenv changes only
        // libc's copy): a variable set before this line, by a module initializer of a library loaded early, counts too.
        var before = File.ReadAllText("/proc/self/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (mode == "opt-in")
            Console.WriteLine(KapreRuntime.Configure(new KapreRuntimeOptions
            {
                OneDnnMaxInstructionSet = OneDnnInstructionSet.Avx2, DisableNnpack = true, KeepFreedCpuMemory = true,
            }));

        var ml = new MLContext(seed: 1);
        var definition = SchemaDefinition.Create(typeof(AudioClassificationTrainerTests.Clip));
        definition[nameof(AudioClassificationTrainerTests.Clip.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, 8000, NumberDataViewType.Int32);
        var data = ml.Data.LoadFromEnumerable(AudioClassificationTrainerTests.Clips(4, 1), definition);
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(AudioClassificationTrainerTests.Clip.Word))
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", nameof(AudioClassificationTrainerTests.Clip.Audio),
                new MelSpectrogramOptions { FftLength = 256, HopLength = 64, MelBinCount = 32, MaxFrequency = 4000 }))
            .Append(ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions { Epochs = 1, BatchSize = 4 }))
            .Fit(data);
        // One row: a batch of one, whose small convolutions oneDNN declines, so libtorch considers NNPACK for each.
        _ = AudioData.Column(model.Transform(ml.Data.TakeRows(data, 1)), "Score");
        ((IDisposable)((IEnumerable<ITransformer>)model).OfType<AudioClassificationTransformer>().Single()).Dispose();

        var after = Environ();
        using var output = new StreamWriter(outputPath);
        foreach (var entry in after.Except(before)) output.WriteLine($"added {entry}");
        foreach (var entry in before.Except(after)) output.WriteLine($"removed {entry}");
        output.WriteLine($"nnpack {(NnpackEnabled() ? "on" : "off")}");
        return 0;
    }

    /// <summary>The C library's environment, <c>NAME=value</c> per entry, in order.</summary>
    private static List<string> Environ()
    {
        var libc = NativeLibrary.Load("libc.so.6");
        var environ = Marshal.ReadIntPtr(NativeLibrary.GetExport(libc, "environ"));
        var entries = new List<string>();
        for (int i = 0; ; i++)
        {
            var entry = Marshal.ReadIntPtr(environ, i * IntPtr.Size);
            if (entry == IntPtr.Zero) return entries;
            entries.Add(Marshal.PtrToStringUTF8(entry)!);
        }
    }

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr globalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledNNPACKEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool userEnabledNNPACK(IntPtr context);

    private static bool NnpackEnabled() => userEnabledNNPACK(globalContext());
}
