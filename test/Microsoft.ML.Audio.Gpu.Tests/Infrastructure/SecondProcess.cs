using System.Diagnostics;
using Microsoft.ML;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// Entry point of this test assembly when it is started as a program: <c>dotnet exec Microsoft.ML.Audio.Gpu.Tests.dll
/// transform model.zip input.idv output.idv</c> loads a saved model and a binary data file in a fresh process with a new
/// MLContext (no registration call, nothing in memory from the test that saved them), transforms the data and saves
/// the result for the test to compare.
/// </summary>
public static class SecondProcess
{
    public static int Main(string[] args)
    {
        if (args.Length == 4 && args[0] == "transform")
        {
            var ml = new MLContext(seed: 7);
            var model = ml.Model.Load(args[1], out _);
            var data = ml.Data.LoadFromBinary(args[2]);
            using var file = File.Create(args[3]);
            ml.Data.SaveAsBinary(model.Transform(data), file, keepHidden: false);
            return 0;
        }
        if (args.Length == 2 && args[0] == ModelFixtures.Command)
            return ModelFixtures.Save(args[1]);
        if (args.Length == 3 && args[0] == ScalarStress.Command)
            return ScalarStress.Run(args[1], args[2]);
        if (args.Length == 3 && args[0] == HostCheck.Command)
            return HostCheck.Run(args[1], args[2]);
        if (args.Length == 4 && args[0] == TrainerStress.Command)
            return TrainerStress.Run(args[1], args[2], args[3]);
        Console.Error.WriteLine($"usage: transform <model.zip> <input.idv> <output.idv> | {ScalarStress.Command} calm|stress <output> | {TrainerStress.Command} calm|stress <output> rounds|check | {HostCheck.Command} <output> default|opt-in");
        return 2;
    }

    /// <summary>Runs <see cref="Main"/> in a new process; returns its exit code and output.</summary>
    public static (int exitCode, string output) Run(params string[] args) => Run(new Dictionary<string, string>(), TimeSpan.FromMinutes(2), args);

    /// <summary>Runs <see cref="Main"/> in a new process with extra environment variables and a time limit.</summary>
    public static (int exitCode, string output) Run(IReadOnlyDictionary<string, string> environment, TimeSpan limit, params string[] args)
    {
        var self = typeof(SecondProcess).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in environment) start.Environment[name] = value;
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(self);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The second process did not finish within {limit.TotalSeconds:F0} s.");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
