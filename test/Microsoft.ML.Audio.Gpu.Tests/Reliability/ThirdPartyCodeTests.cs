using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>
/// No file of the repository builds TorchSharp's native code, or any native code (issue 30): third-party code from a
/// public repository may be read, never built or shipped by a script of ours. The device check uses TorchSharp's own
/// libLibTorchSharp.so from NuGet and says where it does not load.
/// </summary>
[TestClass]
public sealed class ThirdPartyCodeTests
{
    private static string RepoRoot => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(ThirdPartyCodeTests).Assembly.Location)!,
        "..", "..", "..", "..", ".."));

    /// <summary>What a recipe for native code would contain: a compiler or build system run, TorchSharp's native sources.</summary>
    private static readonly Regex Recipe = new(
        @"\bcmake\b|\bninja\b|\bnvcc\b|\bclang\+\+|\bg\+\+\s|\bc\+\+\s+-|\bmake\s+-j|LibTorchSharp-src|src/Native\b|\bTHS\w+\.cpp\b|fetch-torchsharp-native|build/libtorchsharp",
        RegexOptions.IgnoreCase);

    private static readonly string[] TextExtensions = [".sh", ".py", ".cs", ".csproj", ".props", ".targets", ".sln", ".md", ".json", ".yml", ".yaml", ".txt", ".config", ".html", ""];

    [TestMethod]
    public void NoTrackedFile_IsNativeSource_OrBuildsNativeCode()
    {
        var files = TrackedFiles();
        Assert.IsGreaterThan(100, files.Count, "git ls-files listed too few files to be this repository");

        var native = files.Where(f => Path.GetExtension(f) is ".c" or ".cc" or ".cpp" or ".cxx" or ".h" or ".hh" or ".hpp" or ".cu" or ".cmake"
                                      || Path.GetFileName(f) is "CMakeLists.txt" or "Makefile" or "build.ninja").ToList();
        Assert.AreEqual(0, native.Count, "native sources or build files are tracked: " + string.Join(", ", native));

        string self = Path.Combine("test", "Microsoft.ML.Audio.Gpu.Tests", "Reliability", nameof(ThirdPartyCodeTests) + ".cs");
        var findings = new List<string>();
        foreach (var file in files.Where(f => TextExtensions.Contains(Path.GetExtension(f)) && f != self.Replace('\\', '/')))
        {
            string path = Path.Combine(RepoRoot, file);
            if (!File.Exists(path)) continue;
            var lines = File.ReadAllLines(path);
            for (int i = 0; i < lines.Length; i++)
                if (Recipe.Match(lines[i]) is { Success: true } m) findings.Add($"{file}:{i + 1}: {m.Value}: {lines[i].Trim()}");
        }
        Assert.AreEqual(0, findings.Count, "a tracked file names a native build or TorchSharp's native sources:\n" + string.Join("\n", findings));
    }

    [TestMethod]
    public void TheRecipePattern_FindsTheRemovedRecipesLines()
    {
        // The lines of the removed scripts, as they were: the check above must have caught each.
        string[] removed =
        [
            "cmake -G \"$GEN\" -S \"$REPO/build/libtorchsharp\" -B \"$BUILD\" -DCMAKE_BUILD_TYPE=Release",
            "timeout -k 5 \"$T\" cmake --build \"$BUILD\" -j \"$JOBS\" -- $KEEP",
            "git --git-dir=\"$GIT_DIR\" archive --format=tar \"$REV\" src/Native LICENSE.txt",
            "cp -r \"$SRC\" \"$STAGE/LibTorchSharp-src\"",
            "g++ -O1 -shared -o libLibTorchSharp.so THSTensor.cpp",
        ];
        foreach (var line in removed) Assert.IsTrue(Recipe.IsMatch(line), line);
        // ... and not ordinary text of this repository: GCC versions, C# loops.
        foreach (var line in new[] { "libstdc++ from GCC 13 or newer", "for (int g = 0; g < groups; g++)", "TorchSharp's native bridge (libLibTorchSharp.so)" })
            Assert.IsFalse(Recipe.IsMatch(line), line);
    }

    private static List<string> TrackedFiles()
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "ls-files", "-z" }) start.ArgumentList.Add(a);
        using var git = Process.Start(start)!;
        var output = git.StandardOutput.ReadToEndAsync();
        var error = git.StandardError.ReadToEndAsync();
        Assert.IsTrue(git.WaitForExit(TimeSpan.FromMinutes(1)), "git ls-files did not finish");
        Assert.AreEqual(0, git.ExitCode, error.Result);
        return [.. output.Result.Split('\0', StringSplitOptions.RemoveEmptyEntries)];
    }
}
