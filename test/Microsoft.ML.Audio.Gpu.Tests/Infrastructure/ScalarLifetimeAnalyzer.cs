using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// Finds, in built assemblies, every place that hands libtorch a <c>TorchSharp.Scalar</c> that nothing keeps alive.
/// </summary>
/// <remarks>
/// <para>A Scalar owns a native pointer and has a finalizer that frees it. TorchSharp passes <c>scalar.Handle</c> to
/// the native call and nothing references the managed object after that, so a garbage collection during the call
/// can free the Scalar while libtorch reads it ("Unknown scalar type", "alpha must not be a floating point number").
/// A Scalar is held when the instruction after the one that makes it stores it in a field (static constants), or in a
/// local that a <c>finally</c> block reads (C#'s <c>using var</c>, whose Dispose keeps it reachable to the end), or
/// returns it from a method whose result is a Scalar (its callers are then checked).</para>
/// <para>Three rules, applied to every method of the checked assemblies:</para>
/// <list type="number">
/// <item>a Scalar made (implicit conversion, <c>ToScalar</c>, any call returning one) and not held;</item>
/// <item>a call into TorchSharp to a method that makes an unheld Scalar itself or through the TorchSharp methods it calls
/// (<c>add(Tensor)</c>'s hidden <c>alpha = 1</c>, <c>square()</c>'s <c>pow(2)</c>, <c>Tensor + Tensor</c>);</item>
/// <item>a TorchSharp module or optimizer made (constructor or factory) whose <c>forward</c> or <c>step</c> does so
/// (<c>BatchNorm2d</c>'s <c>num_batches_tracked.add_(1)</c>, <c>AdamW.step</c>).</item>
/// </list>
/// <para>TorchSharp's methods are followed through direct calls and delegates (<c>ldftn</c>); a virtual call is followed
/// into the method it names.</para>
/// </remarks>
public sealed class ScalarLifetimeAnalyzer
{
    private const string ScalarType = "TorchSharp.Scalar";
    private static readonly string[] EntryPoints = ["forward", "step"];

    private readonly Dictionary<string, string?> _torchVerdicts = new();
    private readonly HashSet<string> _inProgress = new();

    /// <summary>One unheld Scalar: where, and why.</summary>
    public sealed record Finding(string Method, string Location, string Reason)
    {
        /// <inheritdoc/>
        public override string ToString() => $"{Method} ({Location}): {Reason}";
    }

    /// <summary>Checks every method of the assemblies at <paramref name="paths"/>.</summary>
    public List<Finding> Check(params string[] paths)
    {
        var findings = new List<Finding>();
        foreach (var path in paths)
        {
            var resolver = new DefaultAssemblyResolver();
            resolver.AddSearchDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            bool symbols = File.Exists(Path.ChangeExtension(path, ".pdb"));
            using var assembly = AssemblyDefinition.ReadAssembly(path, new ReaderParameters { AssemblyResolver = resolver, ReadSymbols = symbols });
            foreach (var type in assembly.MainModule.GetTypes())
                foreach (var method in type.Methods)
                    if (method.HasBody) findings.AddRange(CheckMethod(method));
        }
        return findings;
    }

    /// <summary>Checks one method of the caller's own code (all three rules).</summary>
    public IEnumerable<Finding> CheckMethod(MethodDefinition method)
    {
        string name = $"{method.DeclaringType.FullName}::{method.Name}";
        foreach (var ins in method.Body.Instructions)
        {
            if (ins.Operand is not MethodReference callee) continue;
            if (ins.OpCode.Code is not (Code.Call or Code.Callvirt or Code.Newobj)) continue;
            if (MakesScalar(callee) && !IsHeld(method, ins))
            {
                yield return new Finding(name, Where(method, ins), $"temporary Scalar from {callee.DeclaringType.Name}::{callee.Name} is not held during the native call");
                continue;
            }
            if (!IsTorchSharp(callee)) continue;
            var why = TorchSharpVerdict(callee);
            if (why is not null)
            {
                yield return new Finding(name, Where(method, ins), $"calls {callee.DeclaringType.Name}::{callee.Name}, which makes a temporary Scalar: {why}");
                continue;
            }
            var made = ins.OpCode.Code == Code.Newobj ? callee.DeclaringType : callee.ReturnType;
            var entry = EntryPointVerdict(made);
            if (entry is not null)
                yield return new Finding(name, Where(method, ins), $"creates a {made.Name}, whose {entry}");
        }
    }

    /// <summary>Why a TorchSharp method makes an unheld Scalar (directly or through its callees), or null.</summary>
    public string? TorchSharpVerdict(MethodReference reference)
    {
        MethodDefinition? method;
        try { method = reference.GetElementMethod().Resolve(); }
        catch (AssemblyResolutionException) { return null; }
        if (method is null || !method.HasBody) return null;
        string key = method.FullName;
        if (_torchVerdicts.TryGetValue(key, out var known)) return known;
        if (!_inProgress.Add(key)) return null; // recursion: judged by its other paths
        string? verdict = null;
        foreach (var ins in method.Body.Instructions)
        {
            if (ins.Operand is not MethodReference callee) continue;
            if (ins.OpCode.Code is not (Code.Call or Code.Callvirt or Code.Newobj or Code.Ldftn or Code.Ldvirtftn)) continue;
            if (ins.OpCode.Code != Code.Ldftn && ins.OpCode.Code != Code.Ldvirtftn && MakesScalar(callee) && !IsHeld(method, ins))
            {
                verdict = $"{method.DeclaringType.Name}::{method.Name} converts a value with {callee.Name}";
                break;
            }
            if (!IsTorchSharp(callee)) continue;
            var inner = TorchSharpVerdict(callee);
            if (inner is not null)
            {
                verdict = $"{method.DeclaringType.Name}::{method.Name} → {inner}";
                break;
            }
        }
        _inProgress.Remove(key);
        _torchVerdicts[key] = verdict;
        return verdict;
    }

    /// <summary>For a TorchSharp module or optimizer type, why its forward or step makes an unheld Scalar, or null.</summary>
    public string? EntryPointVerdict(TypeReference type)
    {
        TypeDefinition? t;
        try { t = type.GetElementType().Resolve(); }
        catch (AssemblyResolutionException) { return null; }
        var seen = new HashSet<string>();
        for (; t is not null && IsTorchSharp(t); t = SafeResolve(t.BaseType))
        {
            foreach (var m in t.Methods)
            {
                if (!EntryPoints.Contains(m.Name) || !m.HasBody || !seen.Add(m.Name + m.Parameters.Count)) continue;
                var why = TorchSharpVerdict(m);
                if (why is not null) return $"{m.Name} does: {why}";
            }
        }
        return null;
    }

    private static TypeDefinition? SafeResolve(TypeReference? t)
    {
        if (t is null) return null;
        try { return t.Resolve(); } catch (AssemblyResolutionException) { return null; }
    }

    internal static bool IsTorchSharp(MemberReference m)
    {
        if (m is IMemberDefinition) return m.Module.Assembly.Name.Name == "TorchSharp";
        var t = (m as TypeReference ?? m.DeclaringType).GetElementType();
        while (t.IsNested) t = t.DeclaringType;
        return t.Scope switch
        {
            AssemblyNameReference a => a.Name == "TorchSharp",
            ModuleDefinition d => d.Assembly.Name.Name == "TorchSharp",
            _ => false,
        };
    }

    private static bool MakesScalar(MethodReference m) => m.ReturnType.FullName == ScalarType ||
        (m.Name == ".ctor" && m.DeclaringType.FullName == ScalarType);

    /// <summary>True when the Scalar left on the stack by <paramref name="ins"/> is stored where it stays reachable.</summary>
    internal static bool IsHeld(MethodDefinition method, Instruction ins, string type = ScalarType)
    {
        var next = ins.Next;
        if (next is null) return false;
        switch (next.OpCode.Code)
        {
            case Code.Stsfld:
            case Code.Stfld:
                return true;
            case Code.Ret:
                return method.ReturnType.FullName == type;
        }
        int? local = StoredLocal(method, next);
        return local is int index && ReadInFinally(method, index);
    }

    internal static int? StoredLocal(MethodDefinition method, Instruction ins) => ins.OpCode.Code switch
    {
        Code.Stloc_0 => 0,
        Code.Stloc_1 => 1,
        Code.Stloc_2 => 2,
        Code.Stloc_3 => 3,
        Code.Stloc or Code.Stloc_S => ((VariableDefinition)ins.Operand).Index,
        _ => null,
    };

    internal static bool ReadInFinally(MethodDefinition method, int local)
    {
        foreach (var handler in method.Body.ExceptionHandlers)
        {
            if (handler.HandlerType != ExceptionHandlerType.Finally) continue;
            for (var i = handler.HandlerStart; i is not null && i != handler.HandlerEnd; i = i.Next)
            {
                int? read = i.OpCode.Code switch
                {
                    Code.Ldloc_0 => 0,
                    Code.Ldloc_1 => 1,
                    Code.Ldloc_2 => 2,
                    Code.Ldloc_3 => 3,
                    Code.Ldloc or Code.Ldloc_S or Code.Ldloca or Code.Ldloca_S => ((VariableDefinition)i.Operand).Index,
                    _ => null,
                };
                if (read == local) return true;
            }
        }
        return false;
    }

    internal static string Where(MethodDefinition method, Instruction ins)
    {
        var debug = method.DebugInformation;
        if (debug is not null && debug.HasSequencePoints)
        {
            SequencePoint? best = null;
            foreach (var sp in debug.SequencePoints)
                if (sp.Offset <= ins.Offset && !sp.IsHidden) best = sp;
            if (best is not null) return $"{Path.GetFileName(best.Document.Url)}:{best.StartLine}";
        }
        return $"IL_{ins.Offset:x4}";
    }
}
