using Mono.Cecil;

// usage: Publicize <input.dll> <output.dll>
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Publicize <input.dll> <output.dll>");
    return 2;
}

var resolver = new DefaultAssemblyResolver();
resolver.AddSearchDirectory(Path.GetDirectoryName(Path.GetFullPath(args[0]))!);
using var assembly = AssemblyDefinition.ReadAssembly(args[0], new ReaderParameters { AssemblyResolver = resolver });
foreach (var module in assembly.Modules)
    foreach (var type in AllTypes(module.Types))
    {
        if (type.IsNested) type.IsNestedPublic = true; else type.IsPublic = true;
        foreach (var method in type.Methods)
            if (!method.IsPublic) method.IsPublic = true;
        // Fields that back events keep their visibility: a public field and event of one name do not compile.
        foreach (var field in type.Fields)
            if (!field.IsPublic && !type.Events.Any(e => e.Name == field.Name)) field.IsPublic = true;
    }
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(args[1]))!);
assembly.Write(args[1]);
return 0;

static IEnumerable<TypeDefinition> AllTypes(IEnumerable<TypeDefinition> types)
{
    foreach (var t in types)
    {
        yield return t;
        foreach (var nested in AllTypes(t.NestedTypes)) yield return nested;
    }
}
