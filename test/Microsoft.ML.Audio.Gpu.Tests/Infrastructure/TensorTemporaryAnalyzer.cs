using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// Finds, in built assemblies, every TorchSharp tensor (and generator) that nothing owns: outside a dispose scope, not
/// held by a <c>using</c>, a field, a return or an owner that keeps it. A garbage collection can free such a tensor while
/// libtorch reads it, and otherwise the finalizer frees it on its own thread.
/// </summary>
/// <remarks>
/// <para>A Tensor has a finalizer that deletes its native tensor, and TorchSharp's methods load <c>Handle</c> and call
/// libtorch without keeping the managed object alive (as with <c>Scalar</c>, <see cref="ScalarLifetimeAnalyzer"/>).
/// Optimised code ends a reference's life at its last use, so in <c>w.detach().cpu().contiguous()</c> nothing
/// references <c>w.detach()</c>'s result once <c>cpu()</c> has read its handle: a collection then deletes the native
/// tensor under libtorch, a segmentation fault. Inside a <c>NewDisposeScope</c> every new Tensor is referenced by the
/// scope, so methods that open one are trusted for the tensors they make, and so are lambdas handed to a method that
/// opens one and runs them there (<c>Lifetimes.Layer</c>); what a method receives is its caller's to keep alive.</para>
/// <para>Outside a scope, a tensor that a call has just made is a finding when it is:</para>
/// <list type="bullet">
/// <item>handed straight to another call into TorchSharp (receiver or argument), its shape or type queried included;</item>
/// <item>kept in a plain local whose last read is such a call, or that a call reading it replaces (<c>t = t.reshape(s)</c>:
/// issue 28's crash, in <c>TensorCopy.FromArray</c>);</item>
/// <item>dropped, passed to a method of this code base that does not keep it, or kept in a plain local that is never
/// disposed, returned, stored or handed to an owner: left to the finalizer;</item>
/// <item>made inside a TorchSharp method that leaves one of its own tensors so (<c>Conv2d</c>'s and <c>Linear</c>'s
/// constructors drop <c>weight[0, 0]</c>), found by reading TorchSharp's IL through its calls.</item>
/// </list>
/// <para>A TorchSharp <c>Generator</c> is judged as a Scalar is (held while a native call reads it), and a generator,
/// module or optimizer that is made and dropped at once is a finding anywhere (no scope tracks them).</para>
/// </remarks>
public sealed class TensorTemporaryAnalyzer
{
    private const string TensorType = "TorchSharp.torch/Tensor";
    private const string GeneratorType = "TorchSharp.torch/Generator";

    /// <summary>Checks every method of the assemblies at <paramref name="paths"/>.</summary>
    public List<ScalarLifetimeAnalyzer.Finding> Check(params string[] paths)
    {
        var findings = new List<ScalarLifetimeAnalyzer.Finding>();
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

    /// <summary>Checks one method.</summary>
    public IEnumerable<ScalarLifetimeAnalyzer.Finding> CheckMethod(MethodDefinition method)
    {
        string name = $"{method.DeclaringType.FullName}::{method.Name}";
        foreach (var finding in UnownedObjects(method, name)) yield return finding;
        if (OpensScope(method) || RunsInAScope(method)) yield break;
        foreach (var ins in method.Body.Instructions)
        {
            // TorchSharp's own code can leave a tensor it makes to the finalizer (Conv2d's constructor computes its fan-in
            // from weight[0, 0] and drops it): outside a dispose scope, nothing frees it, and a collection can free it
            // while libtorch reads it.
            if (ins.OpCode.Code is Code.Call or Code.Callvirt or Code.Newobj && ins.Operand is MethodReference torchCallee
                && ScalarLifetimeAnalyzer.IsTorchSharp(torchCallee) && TorchSharpVerdict(torchCallee) is string inside)
                yield return new ScalarLifetimeAnalyzer.Finding(name, ScalarLifetimeAnalyzer.Where(method, ins),
                    $"calls {torchCallee.DeclaringType.Name}::{torchCallee.Name} outside a dispose scope, and TorchSharp leaves a tensor it makes there to the finalizer: {inside}");

            if (ins.OpCode.Code is not (Code.Call or Code.Callvirt or Code.Newobj) || ins.Operand is not MethodReference made) continue;
            if (ResultType(made, ins) != TensorType || !IsTemporary(made) || ReturnsArgument(made)) continue;
            var consumer = Consumer(ins);
            // A DetachFromDisposeScope/MoveToOuterDisposeScope hands the same tensor on: judge where that goes.
            while (consumer?.Operand is MethodReference pass && consumer.OpCode.Code is Code.Call or Code.Callvirt && HandsOn(pass))
                consumer = Consumer(consumer);
            if (consumer?.OpCode.Code == Code.Pop)
            {
                yield return new ScalarLifetimeAnalyzer.Finding(name, ScalarLifetimeAnalyzer.Where(method, ins),
                    $"the Tensor from {made.DeclaringType.Name}::{made.Name} is dropped outside a dispose scope: left to the finalizer");
                continue;
            }
            if (consumer is not null && ScalarLifetimeAnalyzer.StoredLocal(method, consumer) is int kept && !ScalarLifetimeAnalyzer.ReadInFinally(method, kept)
                && Overwritten(method, consumer, kept) is Instruction overwrite)
            {
                yield return new ScalarLifetimeAnalyzer.Finding(name, ScalarLifetimeAnalyzer.Where(method, overwrite),
                    $"the Tensor from {made.DeclaringType.Name}::{made.Name}, kept in a local, is replaced by a call that reads it outside a dispose scope "
                    + "(its last use is that native call, and nothing disposes it)");
                continue;
            }
            if (IsNativeCall(consumer, out var callee) || IsQuery(consumer, out callee))
            {
                yield return new ScalarLifetimeAnalyzer.Finding(name, ScalarLifetimeAnalyzer.Where(method, consumer!),
                    $"the Tensor from {made.DeclaringType.Name}::{made.Name} goes straight into {callee.DeclaringType.Name}::{callee.Name} outside a dispose scope");
                continue;
            }
            if (consumer?.Operand is MethodReference passedTo && consumer.OpCode.Code is Code.Call or Code.Callvirt && !ScalarLifetimeAnalyzer.IsTorchSharp(passedTo)
                && !ReturnsArgument(passedTo) && !TakesOwnership(passedTo, ArgumentIndex(ins, consumer, passedTo), 0))
            {
                yield return new ScalarLifetimeAnalyzer.Finding(name, ScalarLifetimeAnalyzer.Where(method, consumer),
                    $"the Tensor from {made.DeclaringType.Name}::{made.Name} is passed to {passedTo.DeclaringType.Name}::{passedTo.Name} outside a dispose scope, and nothing disposes it");
                continue;
            }
            // Kept in a local that no finally block reads (not a using var): its last read must not be a native call's
            // argument, or the local is dead, and the tensor collectable, while libtorch reads it.
            if (consumer is not null && ScalarLifetimeAnalyzer.StoredLocal(method, consumer) is int local && !ScalarLifetimeAnalyzer.ReadInFinally(method, local)
                && LastRead(method, local) is Instruction last && IsNativeCall(Consumer(last), out var lastCallee))
            {
                yield return new ScalarLifetimeAnalyzer.Finding(name, ScalarLifetimeAnalyzer.Where(method, last),
                    $"the Tensor from {made.DeclaringType.Name}::{made.Name}, kept in a local, is last read by {lastCallee.DeclaringType.Name}::{lastCallee.Name} outside a dispose scope");
                continue;
            }
            // Kept in a plain local that is never disposed, returned or handed to an owner: whatever reads it last, the
            // finalizer frees it (in a loop, possibly during that read).
            if (consumer is not null && ScalarLifetimeAnalyzer.StoredLocal(method, consumer) is int plain && !ScalarLifetimeAnalyzer.ReadInFinally(method, plain)
                && !Escapes(method, plain))
                yield return new ScalarLifetimeAnalyzer.Finding(name, ScalarLifetimeAnalyzer.Where(method, ins),
                    $"the Tensor from {made.DeclaringType.Name}::{made.Name}, kept in a local outside a dispose scope, is never disposed, returned or handed to an owner");
        }
    }

    /// <summary>Whether some read of <paramref name="local"/> disposes its tensor, returns it, stores it (a field, an
    /// array, another local) or hands it to a method that keeps it.</summary>
    private static bool Escapes(MethodDefinition method, int local)
    {
        foreach (var read in method.Body.Instructions)
        {
            if (ReadLocal(read) != local) continue;
            if (read.OpCode.Code is Code.Ldloca or Code.Ldloca_S) return true;
            var use = Consumer(read);
            while (use?.Operand is MethodReference pass && use.OpCode.Code is Code.Call or Code.Callvirt && (HandsOn(pass) || ReturnsArgument(pass)))
                use = Consumer(use);
            if (use is null) return true; // beyond straight-line code: not judged
            if (use.OpCode.Code is Code.Ret or Code.Stfld or Code.Stsfld or Code.Stelem_Ref or Code.Stelem_Any or Code.Stobj
                || ScalarLifetimeAnalyzer.StoredLocal(method, use) is not null) return true;
            if (use.Operand is not MethodReference callee) continue;
            if (callee.Name == "Dispose") return true;
            if (use.OpCode.Code == Code.Newobj && !ScalarLifetimeAnalyzer.IsTorchSharp(callee)) return true;
            if (!ScalarLifetimeAnalyzer.IsTorchSharp(callee) && TakesOwnership(callee, ArgumentIndex(read, use, callee), 0)) return true;
        }
        return false;
    }

    private readonly Dictionary<string, string?> _torchVerdicts = new();
    private readonly HashSet<string> _inProgress = new();

    /// <summary>
    /// Why a TorchSharp method leaves a tensor it makes unheld outside a dispose scope of its own (dropped, handed straight
    /// to another call, queried, or replaced in its local), itself or through the TorchSharp methods and constructors it
    /// calls; null when it does not. The caller's dispose scope, if any, then holds and frees such a tensor.
    /// </summary>
    public string? TorchSharpVerdict(MethodReference reference)
    {
        MethodDefinition? method;
        try { method = reference.GetElementMethod().Resolve(); }
        catch (AssemblyResolutionException) { return null; }
        if (method is null || !method.HasBody || OpensScope(method)) return null;
        string key = method.FullName;
        if (_torchVerdicts.TryGetValue(key, out var known)) return known;
        if (!_inProgress.Add(key)) return null; // recursion: judged by its other paths
        string? verdict = null;
        foreach (var ins in method.Body.Instructions)
        {
            if (ins.OpCode.Code is not (Code.Call or Code.Callvirt or Code.Newobj) || ins.Operand is not MethodReference callee) continue;
            if (ResultType(callee, ins) == TensorType && IsTorchSharpTemporary(callee, ins))
            {
                var use = Consumer(ins);
                while (use?.Operand is MethodReference pass && use.OpCode.Code is Code.Call or Code.Callvirt && (HandsOn(pass) || ReturnsArgument(pass)))
                    use = Consumer(use);
                if (use?.Operand is MethodReference owner && use.OpCode.Code is Code.Call or Code.Callvirt or Code.Newobj
                    && (owner.Name == "MoveHandle" || TakesOwnership(owner, ArgumentIndex(ins, use, owner), 0))) continue;
                string? why = use?.OpCode.Code == Code.Pop ? "dropped"
                    : IsNativeCall(use, out var reader) || IsQuery(use, out reader) ? $"read by {reader.DeclaringType.Name}::{reader.Name}"
                    : use is not null && ScalarLifetimeAnalyzer.StoredLocal(method, use) is int kept && Overwritten(method, use, kept) is not null ? "replaced in its local"
                    : null;
                if (why is not null)
                {
                    verdict = $"{method.DeclaringType.Name}::{method.Name} makes a tensor with {callee.DeclaringType.Name}::{callee.Name}, {why}, never disposed";
                    break;
                }
            }
            if (!ScalarLifetimeAnalyzer.IsTorchSharp(callee)) continue;
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

    /// <summary>Inside TorchSharp: a call that makes a new tensor wrapper. Its properties hand back what an object holds
    /// (<c>weight</c>), except the indexer; its in-place methods return their receiver.</summary>
    private static bool IsTorchSharpTemporary(MethodReference m, Instruction ins)
    {
        if (ins.OpCode.Code == Code.Newobj) return true;
        if (m.Name.StartsWith("get_", StringComparison.Ordinal)) return m.Name is "get_Item" or "get_TensorItems"; // the indexer (t[0, 0]) makes a view
        if (ReturnsArgument(m)) return false; // with_requires_grad: its receiver
        return !(m.Name.EndsWith('_') && m.HasThis) && m.Name is not ("alias" or "MoveToOuterDisposeScope" or "DetachFromDisposeScope" or "MoveToOtherDisposeScope");
    }

    /// <summary>
    /// TorchSharp objects that no dispose scope tracks (a <c>Generator</c>, a module, an optimizer) made by a call and
    /// dropped at once: the finalizer frees them, on its own thread, at a time nobody chose (<c>torch.random.manual_seed</c>
    /// returns a Generator). Tensors count only outside a dispose scope (inside, the scope disposes them).
    /// </summary>
    private static IEnumerable<ScalarLifetimeAnalyzer.Finding> UnownedObjects(MethodDefinition method, string name)
    {
        foreach (var ins in method.Body.Instructions)
        {
            if (ins.OpCode.Code is not (Code.Call or Code.Callvirt or Code.Newobj) || ins.Operand is not MethodReference made) continue;
            if (!ScalarLifetimeAnalyzer.IsTorchSharp(made) || ResultType(made, ins) is not string type || type == TensorType) continue;
            if (ins.OpCode.Code != Code.Newobj && made.HasThis && made.ReturnType.FullName == made.DeclaringType.FullName) continue; // returns its receiver
            if (!IsUntrackedDisposable(ins.OpCode.Code == Code.Newobj ? made.DeclaringType : made.ReturnType)) continue;
            if (ins.Next?.OpCode.Code == Code.Pop)
                yield return new ScalarLifetimeAnalyzer.Finding(name, ScalarLifetimeAnalyzer.Where(method, ins),
                    $"the {type.Split('/', '.')[^1]} from {made.DeclaringType.Name}::{made.Name} is dropped: left to the finalizer");
            // A generator is an argument of the native call that draws from it, as a Scalar is: held as a Scalar must be.
            else if (type == GeneratorType && !ScalarLifetimeAnalyzer.IsHeld(method, ins, GeneratorType)
                     && !(ins.Next?.Operand is MethodReference { Name: "Dispose" }))
                yield return new ScalarLifetimeAnalyzer.Finding(name, ScalarLifetimeAnalyzer.Where(method, ins),
                    $"the Generator from {made.DeclaringType.Name}::{made.Name} is not held (a using local, a field) during the native calls that read it");
        }
    }

    /// <summary>A TorchSharp type with a native handle that dispose scopes do not track (tensors are tracked; scalars
    /// are ScalarLifetimeAnalyzer's).</summary>
    private static bool IsUntrackedDisposable(TypeReference type)
    {
        TypeDefinition? t;
        try { t = type.Resolve(); } catch (AssemblyResolutionException) { return false; }
        if (t is null || t.FullName is TensorType or "TorchSharp.Scalar" || t.FullName.StartsWith("TorchSharp.torch/Tensor", StringComparison.Ordinal)) return false;
        if (t.FullName is "TorchSharp.DisposeScope" or "TorchSharp.torch/autograd/AutoGradMode" || t.IsValueType) return false;
        for (var b = t; b is not null; b = SafeResolve(b.BaseType))
            if (b.Interfaces.Any(i => i.InterfaceType.FullName == "System.IDisposable") && ScalarLifetimeAnalyzer.IsTorchSharp(b)) return true;
        return false;
    }

    private static TypeDefinition? SafeResolve(TypeReference? t)
    {
        if (t is null) return null;
        try { return t.Resolve(); } catch (AssemblyResolutionException) { return null; }
    }

    /// <summary>TorchSharp's queries of a tensor (its shape, type, device): they read the native tensor too, and a
    /// temporary whose one use is a query is never disposed.</summary>
    private static bool IsQuery(Instruction? consumer, out MethodReference callee)
    {
        callee = null!;
        if (consumer?.Operand is not MethodReference m || consumer.OpCode.Code is not (Code.Call or Code.Callvirt)) return false;
        callee = m;
        return ScalarLifetimeAnalyzer.IsTorchSharp(m) && m.Name is "get_shape" or "dim" or "get_dtype" or "get_device" or "numel" or "get_Handle"
            or "is_complex" or "is_floating_point" or "get_NumberOfElements" or "get_Dimensions" or "get_ElementSize" or "get_device_type";
    }

    /// <summary>Whether a method of this code base only hands back its argument (a check such as <c>RequireComplex(t)</c>):
    /// every <c>ret</c> follows an <c>ldarg</c>.</summary>
    private static bool ReturnsArgument(MethodReference m)
    {
        MethodDefinition? d;
        try { d = m.Resolve(); } catch (AssemblyResolutionException) { return false; }
        if (d is null || !d.HasBody || m.ReturnType.FullName != TensorType) return false;
        var returns = d.Body.Instructions.Where(i => i.OpCode.Code == Code.Ret).ToList();
        return returns.Count > 0 && returns.All(r => r.Previous?.OpCode.Code is Code.Ldarg_0 or Code.Ldarg_1 or Code.Ldarg_2 or Code.Ldarg_3 or Code.Ldarg or Code.Ldarg_S);
    }

    /// <summary>
    /// Whether a method of this code base keeps its argument number <paramref name="index"/> (counting <c>this</c>):
    /// stores it in a field, registers it with a module (<c>register_buffer</c>, <c>register_parameter</c>), wraps it in
    /// a <c>Parameter</c>, or hands it to a method that does (a layer that "takes ownership" of its filterbank).
    /// </summary>
    private static bool TakesOwnership(MethodReference m, int index, int depth)
    {
        if (index < 0 || depth > 4) return false;
        MethodDefinition? d;
        try { d = m.Resolve(); } catch (AssemblyResolutionException) { return false; }
        if (d is null || !d.HasBody) return false;
        foreach (var i in d.Body.Instructions)
        {
            if (ArgumentRead(i) != index) continue;
            var use = Consumer(i);
            if (use is null) continue;
            if (use.OpCode.Code is Code.Stfld or Code.Stsfld) return true;
            if (use.Operand is not MethodReference callee || use.OpCode.Code is not (Code.Call or Code.Callvirt or Code.Newobj)) continue;
            if (callee.Name is "register_buffer" or "register_parameter" or "MoveHandle" || (callee.Name == ".ctor" && callee.DeclaringType.Name == "Parameter")) return true;
            // Within one code base: this library's methods into this library's (a layer keeping its filterbank), TorchSharp's
            // into TorchSharp's (AsParameter into Parameter). A TensorAccessor keeping the tensor it reads is not an owner.
            if (ScalarLifetimeAnalyzer.IsTorchSharp(callee) == ScalarLifetimeAnalyzer.IsTorchSharp(m)
                && TakesOwnership(callee, ArgumentIndex(i, use, callee), depth + 1)) return true;
        }
        return false;
    }

    private static int? ArgumentRead(Instruction i) => i.OpCode.Code switch
    {
        Code.Ldarg_0 => 0,
        Code.Ldarg_1 => 1,
        Code.Ldarg_2 => 2,
        Code.Ldarg_3 => 3,
        Code.Ldarg or Code.Ldarg_S => ((ParameterDefinition)i.Operand).Sequence,
        _ => null,
    };

    /// <summary>The argument position (counting <c>this</c> for instance methods) at which <paramref name="call"/> takes
    /// the value that <paramref name="producer"/> pushed; -1 when it cannot be told.</summary>
    private static int ArgumentIndex(Instruction producer, Instruction call, MethodReference callee)
    {
        int args = callee.Parameters.Count + (callee.HasThis && call.OpCode.Code != Code.Newobj ? 1 : 0);
        int above = 0; // values pushed after the producer's and still on the stack at the call
        for (var i = producer.Next; i is not null && i != call; i = i.Next)
        {
            if (i.OpCode.FlowControl is FlowControl.Branch or FlowControl.Cond_Branch) return -1;
            var (pops, pushes) = StackEffect(i);
            above += pushes - pops;
        }
        int position = args - 1 - above;
        if (position < 0) return -1;
        // Newobj: arguments are numbered from 1 inside the constructor (0 is the new object).
        return call.OpCode.Code == Code.Newobj ? position + 1 : position;
    }

    /// <summary>TorchSharp calls that return the tensor they are given (its dispose scope changed, nothing computed).</summary>
    private static bool HandsOn(MethodReference m) => ScalarLifetimeAnalyzer.IsTorchSharp(m)
        && m.Name is "MoveToOuterDisposeScope" or "MoveToOtherDisposeScope" or "DetachFromDisposeScope";

    /// <summary>
    /// The read of local <paramref name="local"/>, after the store <paramref name="store"/>, whose value goes into a native
    /// call (receiver or argument) whose result is stored back into the same local, as in <c>t = t.reshape(shape)</c>:
    /// null when there is none. In instruction order, up to the next store to the local.
    /// </summary>
    private static Instruction? Overwritten(MethodDefinition method, Instruction store, int local)
    {
        for (var i = store.Next; i is not null; i = i.Next)
        {
            if (ScalarLifetimeAnalyzer.StoredLocal(method, i) == local) return null;
            if (ReadLocal(i) != local) continue;
            var call = Consumer(i);
            if (IsNativeCall(call, out _) && call!.Next is Instruction next && ScalarLifetimeAnalyzer.StoredLocal(method, next) == local) return call;
        }
        return null;
    }

    /// <summary>Whether a call's Tensor is new: TorchSharp's in-place methods (<c>mul_</c>) return their receiver, and
    /// this code's own properties return tensors a module or object holds.</summary>
    private static bool IsTemporary(MethodReference m)
        => ScalarLifetimeAnalyzer.IsTorchSharp(m) ? !(m.Name.EndsWith('_') && m.HasThis) : !m.Name.StartsWith("get_", StringComparison.Ordinal);

    private static bool IsNativeCall(Instruction? consumer, out MethodReference callee)
    {
        callee = null!;
        if (consumer?.Operand is not MethodReference m || consumer.OpCode.Code is not (Code.Call or Code.Callvirt or Code.Newobj)) return false;
        callee = m;
        return ScalarLifetimeAnalyzer.IsTorchSharp(m) && !KeepsAlive(m);
    }

    private static int? ReadLocal(Instruction ins) => ins.OpCode.Code switch
    {
        Code.Ldloc_0 => 0,
        Code.Ldloc_1 => 1,
        Code.Ldloc_2 => 2,
        Code.Ldloc_3 => 3,
        Code.Ldloc or Code.Ldloc_S or Code.Ldloca or Code.Ldloca_S => ((VariableDefinition)ins.Operand).Index,
        _ => null,
    };

    /// <summary>The local's last read in the method, when the method has no backward branch (a loop could read it
    /// again); null otherwise.</summary>
    private static Instruction? LastRead(MethodDefinition method, int local)
    {
        Instruction? last = null;
        foreach (var i in method.Body.Instructions)
        {
            if (i.Operand is Instruction target && target.Offset < i.Offset) return null;
            if (ReadLocal(i) == local) last = i;
        }
        return last;
    }

    private static string? ResultType(MethodReference m, Instruction ins)
        => ins.OpCode.Code == Code.Newobj ? m.DeclaringType.FullName : m.ReturnType.FullName;

    /// <summary>TorchSharp methods that only wrap or hand back their argument (nothing native reads it), and
    /// <c>Parameter</c>'s constructor, which takes its tensor's handle over (it uses the object after the native call).</summary>
    private static bool KeepsAlive(MethodReference m) => (m.Name == ".ctor" && m.DeclaringType.Name == "Parameter") || m.Name is "MoveToOuterDisposeScope" or "MoveToOtherDisposeScope" or "DetachFromDisposeScope"
        or "Dispose" or "get_shape" or "dim" or "get_dtype" or "get_device" or "numel" or "get_Handle" or "is_complex" or "is_floating_point";

    private readonly Dictionary<ModuleDefinition, HashSet<string>> _scopedDelegates = new();

    /// <summary>
    /// Whether <paramref name="method"/> is a delegate body (a lambda) handed to a method that opens a dispose scope and
    /// runs it there, as <c>Lifetimes.Layer(() =&gt; nn.Conv2d(...))</c>: its tensors are that scope's.
    /// </summary>
    private bool RunsInAScope(MethodDefinition method)
    {
        var module = method.Module;
        if (!_scopedDelegates.TryGetValue(module, out var scoped))
        {
            scoped = [];
            foreach (var type in module.GetTypes())
                foreach (var m in type.Methods.Where(m => m.HasBody))
                    foreach (var ins in m.Body.Instructions)
                    {
                        if (ins.OpCode.Code is not (Code.Call or Code.Callvirt) || ins.Operand is not MethodReference callee) continue;
                        if (!callee.Parameters.Any(p => p.ParameterType.Name.StartsWith("Func`", StringComparison.Ordinal)
                                                        || p.ParameterType.Name.StartsWith("Action", StringComparison.Ordinal))) continue;
                        MethodDefinition? target;
                        try { target = callee.Resolve(); } catch (AssemblyResolutionException) { continue; }
                        if (target is null || !target.HasBody || !OpensScope(target)) continue;
                        // The delegate is made just before the call (C# caches a non-capturing lambda's in a static field).
                        var i = ins.Previous;
                        for (int k = 0; k < 12 && i is not null; k++, i = i.Previous)
                            if (i.OpCode.Code is Code.Ldftn && i.Operand is MethodReference body)
                            {
                                scoped.Add(body.FullName);
                                break;
                            }
                    }
            _scopedDelegates[module] = scoped;
        }
        return scoped.Contains(method.FullName);
    }

    private static bool OpensScope(MethodDefinition method)
        => method.Body.Instructions.Any(i => i.Operand is MethodReference m && m.Name == "NewDisposeScope");

    /// <summary>The instruction that pops the value <paramref name="producer"/> pushes, following straight-line code
    /// (null at a branch, a store or the method's end).</summary>
    private static Instruction? Consumer(Instruction producer)
    {
        int above = 0; // values pushed on top of the producer's
        for (var i = producer.Next; i is not null; i = i.Next)
        {
            if (i.OpCode.FlowControl is FlowControl.Branch or FlowControl.Cond_Branch or FlowControl.Throw) return null;
            var (pops, pushes) = StackEffect(i);
            if (pops > above) return i;
            above += pushes - pops;
            if (i.OpCode.FlowControl == FlowControl.Return) return null;
        }
        return null;
    }

    private static (int pops, int pushes) StackEffect(Instruction i)
    {
        if (i.Operand is MethodReference m && i.OpCode.Code is Code.Call or Code.Callvirt or Code.Newobj)
        {
            int args = m.Parameters.Count + (m.HasThis && i.OpCode.Code != Code.Newobj ? 1 : 0);
            int result = i.OpCode.Code == Code.Newobj || m.ReturnType.FullName != "System.Void" ? 1 : 0;
            return (args, result);
        }
        int pops = i.OpCode.StackBehaviourPop switch
        {
            StackBehaviour.Pop0 => 0,
            StackBehaviour.Pop1 or StackBehaviour.Popi or StackBehaviour.Popref => 1,
            StackBehaviour.Pop1_pop1 or StackBehaviour.Popi_pop1 or StackBehaviour.Popi_popi or StackBehaviour.Popi_popi8 or StackBehaviour.Popi_popr4
                or StackBehaviour.Popi_popr8 or StackBehaviour.Popref_pop1 or StackBehaviour.Popref_popi => 2,
            StackBehaviour.Popi_popi_popi or StackBehaviour.Popref_popi_popi or StackBehaviour.Popref_popi_popi8 or StackBehaviour.Popref_popi_popr4
                or StackBehaviour.Popref_popi_popr8 or StackBehaviour.Popref_popi_popref => 3,
            _ => 99, // Varpop (ret), PopAll: treat as consuming everything
        };
        int pushes = i.OpCode.StackBehaviourPush switch
        {
            StackBehaviour.Push0 => 0,
            StackBehaviour.Push1_push1 => 2,
            _ => 1,
        };
        return (pops, pushes);
    }
}
