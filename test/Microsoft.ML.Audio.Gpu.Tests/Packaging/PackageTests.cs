using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using System.Xml.Linq;
using Mono.Cecil;

namespace Microsoft.ML.Audio.Gpu.Tests.Packaging;

/// <summary>
/// The packages as a user gets them (issues 30 and 32): Kapre.MLNet pins exactly every package whose internals it uses,
/// and a new console app with the newest ML.NET and the packed packages restores without a version warning, builds and
/// trains, saves, loads and predicts.
/// </summary>
[TestClass]
public sealed class PackageTests
{
    private static string Dir => Path.GetDirectoryName(typeof(PackageTests).Assembly.Location)!;

    /// <summary>Release or Debug: the configuration these tests were built in (bin/CONFIG/net10.0).</summary>
    private static string Configuration => Path.GetFileName(Path.GetDirectoryName(Dir))!;

    private static string RepoRoot => Path.GetFullPath(Path.Combine(Dir, "..", "..", "..", "..", ".."));

    /// <summary>The projects' package ids; the other assemblies' packages come from the tests' deps.json.</summary>
    private static readonly Dictionary<string, string> SiblingPackages = new()
    {
        ["Microsoft.ML.Audio.Gpu.Layers"] = "Kapre.MLNet.Layers",
        ["Microsoft.ML.Audio.Gpu.IO"] = "Kapre.MLNet.AudioIO",
    };

    [TestMethod]
    public void PackedNuspec_PinsExactly_EveryPackageWhoseInternalsTheLibraryUses()
    {
        var internals = AssembliesWhoseInternalsAreUsed(Path.Combine(Dir, "Microsoft.ML.Audio.Gpu.dll"));
        // Not vacuous: the model save/load code uses ML.NET's internals, the transforms the layers' shared helpers.
        CollectionAssert.IsSubsetOf(new[] { "Microsoft.ML.Core", "Microsoft.ML.Data", "Microsoft.ML.Audio.Gpu.Layers" }, internals.Keys.ToList(),
            "the IL check found fewer internal uses than the library is known to make: " + string.Join(", ", internals.Keys));

        var dependencies = PackedDependencies(Pack("src/Microsoft.ML.Audio.Gpu", "Kapre.MLNet"));
        var packages = PackageOfAssembly();
        foreach (var (assembly, members) in internals)
        {
            Assert.IsTrue(packages.TryGetValue(assembly, out var package), $"no package is known for {assembly}");
            Assert.IsTrue(dependencies.TryGetValue(package.Id, out var range), $"the nuspec does not depend on {package.Id} ({assembly})");
            Assert.AreEqual($"[{package.Version}]", range,
                $"Kapre.MLNet uses internals of {assembly} ({members.Count} members, e.g. {string.Join(", ", members.Take(3))}), so its " +
                $"dependency on {package.Id} must be exactly the version it was built against");
        }
        // The packages used only through their public API keep a lower bound (an exact pin there would only stop upgrades).
        Assert.IsFalse(dependencies["TorchSharp"].StartsWith('['), dependencies["TorchSharp"]);
    }

    [TestMethod]
    public void PackedNuspec_NamesWhatIsPinned_InTheFormTheCheckReads()
    {
        // The check above reads "[x]" ranges; if NuGet wrote pins differently, it would fail for the wrong reason.
        var dependencies = PackedDependencies(Pack("src/Microsoft.ML.Audio.Gpu", "Kapre.MLNet"));
        Assert.AreEqual("[6.0.0]", dependencies["Microsoft.ML"]);
        Assert.AreEqual("[0.1.0]", dependencies["Kapre.MLNet.Layers"]);
        Assert.AreEqual("0.1.0", dependencies["Kapre.MLNet.AudioIO"]);
    }

    /// <summary>
    /// test/FreshApp/check.sh: a console app outside the repository with <c>dotnet add package Microsoft.ML</c> (the
    /// newest served), the three packed packages and the CPU libtorch. Needs NuGet's network, as the build does.
    /// </summary>
    [TestMethod]
    public void FreshApp_WithTheNewestMLNet_RestoresWithoutVersionWarnings_AndTrainsSavesLoadsPredicts()
    {
        string work = Path.Combine(Path.GetTempPath(), "kapre-fresh-app-" + Guid.NewGuid().ToString("N"));
        try
        {
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(Path.Combine(RepoRoot, "test", "FreshApp", "check.sh"));
            start.ArgumentList.Add(work);
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail("check.sh did not finish in 10 minutes:\n" + stdout.Result + stderr.Result);
            }
            string output = stdout.Result + stderr.Result;
            StringAssert.Contains(output, "<PackageReference Include=\"Microsoft.ML\" Version=\"6.0.0\" />",
                "`dotnet add package Microsoft.ML` no longer gives 6.0.0, the version Kapre.MLNet pins: build it against the newer one (issue 32)\n" + output);
            Assert.AreEqual(0, process.ExitCode, output);
            StringAssert.Contains(output, "restore: no NU1608, NU1605 or NU1107", output);
            StringAssert.Contains(output, "FRESH APP OK", output);
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>`dotnet pack --no-build` of a project into a new temporary folder; the path of the package.</summary>
    private static string Pack(string project, string id)
    {
        string output = Directory.CreateTempSubdirectory("kapre-pack-").FullName;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "pack", Path.Combine(RepoRoot, project), "-c", Configuration, "--no-build", "-o", output, "--nologo" })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.IsTrue(process.WaitForExit(TimeSpan.FromMinutes(3)), "dotnet pack did not finish");
        Assert.AreEqual(0, process.ExitCode, stdout.Result + stderr.Result);
        return Directory.GetFiles(output, id + ".*.nupkg").Single();
    }

    /// <summary>The nuspec's dependencies: id → version range as written.</summary>
    private static Dictionary<string, string> PackedDependencies(string nupkg)
    {
        try
        {
            using var zip = ZipFile.OpenRead(nupkg);
            using var stream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
            var nuspec = XDocument.Load(stream);
            return nuspec.Descendants().Where(e => e.Name.LocalName == "dependency")
                .ToDictionary(e => (string)e.Attribute("id")!, e => (string)e.Attribute("version")!);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(nupkg)!, recursive: true);
        }
    }

    /// <summary>Assembly name → (package id, version), from the tests' deps.json and the sibling projects' ids.</summary>
    private static Dictionary<string, (string Id, string Version)> PackageOfAssembly()
    {
        var map = new Dictionary<string, (string, string)>();
        using var deps = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "Microsoft.ML.Audio.Gpu.Tests.deps.json")));
        foreach (var target in deps.RootElement.GetProperty("targets").EnumerateObject())
            foreach (var library in target.Value.EnumerateObject())
            {
                var (name, version) = (library.Name[..library.Name.IndexOf('/')], library.Name[(library.Name.IndexOf('/') + 1)..]);
                string id = SiblingPackages.GetValueOrDefault(name, name);
                // A project's entry carries its assembly version (0.1.0.0); its package has the product version (0.1.0).
                if (SiblingPackages.ContainsKey(name))
                    version = FileVersionInfo.GetVersionInfo(Path.Combine(Dir, name + ".dll")).ProductVersion!.Split('+')[0];
                if (library.Value.TryGetProperty("runtime", out var runtime))
                    foreach (var asset in runtime.EnumerateObject())
                        map[Path.GetFileNameWithoutExtension(asset.Name)] = (id, version);
            }
        return map;
    }

    /// <summary>
    /// The other assemblies whose non-public types or members <paramref name="path"/> references (through the
    /// publicized references or InternalsVisibleTo), with the members, resolved against the real assemblies beside it.
    /// </summary>
    private static Dictionary<string, SortedSet<string>> AssembliesWhoseInternalsAreUsed(string path)
    {
        var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(Dir);
        using var assembly = AssemblyDefinition.ReadAssembly(path, new ReaderParameters { AssemblyResolver = resolver });
        var module = assembly.MainModule;
        var used = new Dictionary<string, SortedSet<string>>();
        void Add(TypeDefinition declaring, string member)
        {
            string owner = declaring.Module.Assembly.Name.Name;
            if (owner == assembly.Name.Name) return;
            if (!used.TryGetValue(owner, out var set)) used[owner] = set = [];
            set.Add($"{declaring.FullName}::{member}");
        }
        static bool Visible(TypeDefinition t)
        {
            for (var x = t; x is not null; x = x.DeclaringType)
                if (!(x.IsPublic || x.IsNestedPublic || x.IsNestedFamily || x.IsNestedFamilyOrAssembly)) return false;
            return true;
        }
        // The framework's assemblies are not beside the tests; their types are public anyway. Unresolved ML.NET or layers
        // references would hide internals, which the caller's not-vacuous check catches.
        static T? Resolved<T>(Func<T> resolve) where T : class
        {
            try { return resolve(); }
            catch (AssemblyResolutionException) { return null; }
        }
        foreach (var reference in module.GetTypeReferences())
            if (Resolved(reference.Resolve) is TypeDefinition type && !Visible(type)) Add(type, "(type)");
        foreach (var reference in module.GetMemberReferences())
        {
            var definition = reference switch
            {
                MethodReference m => (IMemberDefinition?)Resolved(m.Resolve),
                FieldReference f => Resolved(f.Resolve),
                _ => null,
            };
            bool visible = definition switch
            {
                MethodDefinition m => m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly,
                FieldDefinition f => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly,
                _ => true,
            };
            if (definition is not null && (!visible || !Visible(definition.DeclaringType))) Add(definition.DeclaringType, definition.Name);
        }
        return used;
    }
}
