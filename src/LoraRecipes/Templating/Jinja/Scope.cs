namespace LoraRecipes.Templating.Jinja;

/// <summary>
/// Variables of one level (the template, a for-loop iteration, a macro call). Lookups walk outwards; <c>set</c>
/// writes to the innermost level, so a variable set inside a loop body does not leak out — the reason templates
/// use <c>namespace()</c>.
/// </summary>
internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);

    public object? Lookup(string name)
    {
        for (Scope? s = this; s is not null; s = s.Parent)
        {
            if (s._vars.TryGetValue(name, out object? value)) return value;
        }
        return Undefined.Instance;
    }

    public Scope? Parent { get; } = parent;

    public void Set(string name, object? value) => _vars[name] = value;
}
