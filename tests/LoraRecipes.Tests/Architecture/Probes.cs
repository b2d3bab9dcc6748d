// Probe types for LayerTests.The_reader_sees_…: each hides its use of another type the way real code does.
namespace LoraRecipes.Tests.Architecture.Probes;

public static class CalledType
{
    public static bool IsIt(string s) => s.Length > 0;
}

public sealed class ElementType;

public static class QualifiedCaller
{
    // No using, no field, no signature: only the call names the type.
    public static bool Call(string s) => LoraRecipes.Tests.Architecture.Probes.CalledType.IsIt(s);
}

public static class LambdaCaller
{
    // The call sits in a compiler-generated closure class nested in this one.
    public static Func<string, bool> Make(int n) => s => s.Length == n && CalledType.IsIt(s);
}

public static class GenericHolder
{
    public static int Count() => new List<ElementType>().Count;
}

public static class TypeofUser
{
    public static string Name() => typeof(ElementType).Name;
}
