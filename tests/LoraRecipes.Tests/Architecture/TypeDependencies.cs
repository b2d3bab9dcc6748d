using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace LoraRecipes.Tests.Architecture;

/// <summary>
/// Which types of an assembly use which other types of the same assembly, read from the compiled metadata (no
/// reflection loading): base types and interfaces, generic constraints, custom attributes, the signatures of fields,
/// methods, properties and events, local variables, and every type/method/field token in the IL — so a
/// fully-qualified call such as <c>Lora.LoraInjector.IsAdapterParameter(name)</c> counts as much as a <c>using</c>.
/// Nested and compiler-generated types (lambdas, iterators, async state machines) count as their outermost type.
/// Only compile-time constants (a <c>const</c> or an enum member inlined as a number) leave no trace in metadata.
/// </summary>
public static class TypeDependencies
{
    /// <summary>Every (from, to) pair of distinct outermost types, by full name (<c>LoraRecipes.Models.Bert</c>).</summary>
    public static IReadOnlyCollection<(string From, string To)> Read(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var pairs = new HashSet<(string, string)>();
        foreach (var handle in md.TypeDefinitions)
        {
            var type = md.GetTypeDefinition(handle);
            if (type.IsNested) continue;
            string from = FullName(md, handle);
            var used = new HashSet<TypeDefinitionHandle>();
            Collect(md, pe, handle, used);
            foreach (var target in used)
            {
                string to = FullName(md, Outermost(md, target));
                if (to != from) pairs.Add((from, to));
            }
        }
        return pairs;
    }

    // Everything a type definition (and its nested types) refers to, as type definitions of this assembly.
    static void Collect(MetadataReader md, PEReader pe, TypeDefinitionHandle handle, HashSet<TypeDefinitionHandle> used)
    {
        var type = md.GetTypeDefinition(handle);
        var provider = new Collector(used);
        Resolve(md, type.BaseType, provider);
        foreach (var i in type.GetInterfaceImplementations()) Resolve(md, md.GetInterfaceImplementation(i).Interface, provider);
        Attributes(md, type.GetCustomAttributes(), provider);
        GenericParameters(md, type.GetGenericParameters(), provider);
        foreach (var f in type.GetFields())
        {
            var field = md.GetFieldDefinition(f);
            field.DecodeSignature(provider, null);
            Attributes(md, field.GetCustomAttributes(), provider);
        }
        foreach (var p in type.GetProperties())
        {
            var property = md.GetPropertyDefinition(p);
            property.DecodeSignature(provider, null);
            Attributes(md, property.GetCustomAttributes(), provider);
        }
        foreach (var e in type.GetEvents()) Resolve(md, md.GetEventDefinition(e).Type, provider);
        foreach (var m in type.GetMethods()) Method(md, pe, m, provider);
        foreach (var nested in type.GetNestedTypes()) Collect(md, pe, nested, used);
    }

    static void Method(MetadataReader md, PEReader pe, MethodDefinitionHandle handle, Collector provider)
    {
        var method = md.GetMethodDefinition(handle);
        method.DecodeSignature(provider, null);
        Attributes(md, method.GetCustomAttributes(), provider);
        GenericParameters(md, method.GetGenericParameters(), provider);
        foreach (var p in method.GetParameters()) Attributes(md, md.GetParameter(p).GetCustomAttributes(), provider);
        if (method.RelativeVirtualAddress == 0) return;
        var body = pe.GetMethodBody(method.RelativeVirtualAddress);
        if (!body.LocalSignature.IsNil)
            md.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(provider, null);
        foreach (var region in body.ExceptionRegions)
            if (region.Kind == ExceptionRegionKind.Catch) Resolve(md, region.CatchType, provider);
        foreach (int token in ILTokens(body.GetILBytes()!))
        {
            var entity = MetadataTokens.EntityHandle(token);
            if (entity.Kind == HandleKind.StandaloneSignature)
                md.GetStandaloneSignature((StandaloneSignatureHandle)entity).DecodeMethodSignature(provider, null);
            else Resolve(md, entity, provider);
        }
    }

    static void Attributes(MetadataReader md, CustomAttributeHandleCollection attributes, Collector provider)
    {
        foreach (var a in attributes) Resolve(md, md.GetCustomAttribute(a).Constructor, provider);
    }

    static void GenericParameters(MetadataReader md, GenericParameterHandleCollection parameters, Collector provider)
    {
        foreach (var g in parameters)
            foreach (var c in md.GetGenericParameter(g).GetConstraints())
                Resolve(md, md.GetGenericParameterConstraint(c).Type, provider);
    }

    // A handle met in a signature, an attribute or the IL, down to the type definitions it names.
    static void Resolve(MetadataReader md, EntityHandle handle, Collector provider)
    {
        if (handle.IsNil) return;
        switch (handle.Kind)
        {
            case HandleKind.TypeDefinition: provider.Used.Add((TypeDefinitionHandle)handle); break;
            case HandleKind.TypeSpecification: md.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(provider, null); break;
            case HandleKind.MethodDefinition: provider.Used.Add(md.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType()); break;
            case HandleKind.FieldDefinition: provider.Used.Add(md.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType()); break;
            case HandleKind.MemberReference:
                var member = md.GetMemberReference((MemberReferenceHandle)handle);
                Resolve(md, member.Parent, provider);
                break;
            case HandleKind.MethodSpecification:
                var spec = md.GetMethodSpecification((MethodSpecificationHandle)handle);
                Resolve(md, spec.Method, provider);
                spec.DecodeSignature(provider, null);
                break;
            // Type references name other assemblies; module references and the rest name no type of this one.
        }
    }

    static TypeDefinitionHandle Outermost(MetadataReader md, TypeDefinitionHandle handle)
    {
        while (true)
        {
            var declaring = md.GetTypeDefinition(handle).GetDeclaringType();
            if (declaring.IsNil) return handle;
            handle = declaring;
        }
    }

    static string FullName(MetadataReader md, TypeDefinitionHandle handle)
    {
        var type = md.GetTypeDefinition(handle);
        string ns = md.GetString(type.Namespace), name = md.GetString(type.Name);
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        return ns.Length == 0 ? name : ns + "." + name;
    }

    // The metadata tokens in a method body: walks the IL opcode by opcode, using the operand kinds System.Reflection.Emit
    // knows, so no operand byte is ever mistaken for an opcode.
    static IEnumerable<int> ILTokens(byte[] il)
    {
        int i = 0;
        while (i < il.Length)
        {
            int value = il[i++];
            if (value == 0xFE) value = 0xFE00 | il[i++];
            if (!OperandKinds.TryGetValue((short)value, out var operand))
                throw new InvalidDataException($"unknown IL opcode 0x{value:X} at offset {i - 1}");
            switch (operand)
            {
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineType or OperandType.InlineTok or OperandType.InlineSig:
                    yield return BitConverter.ToInt32(il, i);
                    i += 4;
                    break;
                case OperandType.InlineSwitch:
                    i += 4 + 4 * BitConverter.ToInt32(il, i);
                    break;
                default:
                    i += OperandSize(operand);
                    break;
            }
        }
    }

    static readonly Dictionary<short, OperandType> OperandKinds = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value, o => o.OperandType);

    static int OperandSize(OperandType operand) => operand switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        _ => 4, // InlineBrTarget, InlineI, ShortInlineR, InlineString
    };

    // Decodes signatures only for their side effect: every type definition met is recorded.
    sealed class Collector(HashSet<TypeDefinitionHandle> used) : ISignatureTypeProvider<int, object?>
    {
        public HashSet<TypeDefinitionHandle> Used { get; } = used;
        public int GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) { Used.Add(handle); return 0; }
        public int GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => 0;
        public int GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);
        public int GetPrimitiveType(PrimitiveTypeCode typeCode) => 0;
        public int GetSZArrayType(int elementType) => 0;
        public int GetArrayType(int elementType, ArrayShape shape) => 0;
        public int GetByReferenceType(int elementType) => 0;
        public int GetPointerType(int elementType) => 0;
        public int GetPinnedType(int elementType) => 0;
        public int GetGenericInstantiation(int genericType, ImmutableArray<int> typeArguments) => 0;
        public int GetGenericTypeParameter(object? genericContext, int index) => 0;
        public int GetGenericMethodParameter(object? genericContext, int index) => 0;
        public int GetFunctionPointerType(MethodSignature<int> signature) => 0;
        public int GetModifiedType(int modifier, int unmodifiedType, bool isRequired) => 0;
    }
}
