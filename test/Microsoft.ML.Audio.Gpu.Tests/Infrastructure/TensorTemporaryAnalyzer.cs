using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// Finds, in built assemblies, every chained <c>TorchSharp.Tensor</c> temporary that a garbage collection can free while
/// libtorch reads it: outside a dispose scope.
/// </summary>
/// <remarks>
/// <para>A Tensor has a finalizer that deletes its native tensor, and TorchSharp's methods load <c>Handle</c> and call
/// libtorch without keeping the managed object alive (as with <c>Scalar</c>, <see cref="ScalarLifetimeAnalyzer"/>). In
/// <c>w.detach().cpu().contiguous()</c> nothing references <c>w.detach()</c>'s result once <c>cpu()</c> has read its
/// handle, so a collection then deletes the native tensor under libtorch: a segmentation fault, seen under forced
/// collections in a layer's constructor. Inside a <c>NewDisposeScope</c> every new Tensor is referenced by the scope, so
/// the rule is: a method that does not open a dispose scope must not hand a Tensor that a call has just made straight to
/// another call into TorchSharp (receiver or argument); it holds it in a <c>using var</c> or opens a scope.</para>
/// <para>Methods that open a scope are trusted for the tensors they make after opening it; what a method receives is its
/// caller's to keep alive.</para>
/// </remarks>
public sealed class TensorTemporaryAnalyzer
{
    private const string TensorType = "TorchSharp.torch/Tensor";

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
        if (OpensScope(method)) yield break;
        string name = $"{method.DeclaringType.FullName}::{method.Name}";
        foreach (var ins in method.Body.Instructions)
        {
            if (ins.OpCode.Code is not (Code.Call or Code.Callvirt or Code.Newobj) || ins.Operand is not MethodReference made) continue;
            if (ResultType(made, ins) != TensorType || !IsTemporary(made)) continue;
            var consumer = Consumer(ins);
            if (IsNativeCall(consumer, out var callee))
            {
                yield return new ScalarLifetimeAnalyzer.Finding(name, ScalarLifetimeAnalyzer.Where(method, consumer!),
                    $"the Tensor from {made.DeclaringType.Name}::{made.Name} goes straight into {callee.DeclaringType.Name}::{callee.Name} outside a dispose scope");
                continue;
            }
            // Kept in a local that no finally block reads (not a using var): its last read must not be a native call's
            // argument, or the local is dead, and the tensor collectable, while libtorch reads it.
            if (consumer is not null && ScalarLifetimeAnalyzer.StoredLocal(method, consumer) is int local && !ScalarLifetimeAnalyzer.ReadInFinally(method, local)
                && LastRead(method, local) is Instruction last && IsNativeCall(Consumer(last), out var lastCallee))
                yield return new ScalarLifetimeAnalyzer.Finding(name, ScalarLifetimeAnalyzer.Where(method, last),
                    $"the Tensor from {made.DeclaringType.Name}::{made.Name}, kept in a local, is last read by {lastCallee.DeclaringType.Name}::{lastCallee.Name} outside a dispose scope");
        }
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
