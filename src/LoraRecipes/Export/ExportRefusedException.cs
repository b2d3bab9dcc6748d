namespace LoraRecipes.Export;

/// <summary>
/// The recipe holds settings the chosen engine cannot express. The export writes nothing rather than drop them:
/// each refusal names the recipe key, its value and the engine, with what to change.
/// </summary>
public sealed class ExportRefusedException(string recipePath, IReadOnlyList<ExportRefusal> refusals)
    : Exception(Format(recipePath, refusals))
{
    /// <summary>Every setting refused, in schema order.</summary>
    public IReadOnlyList<ExportRefusal> Refusals { get; } = refusals;

    private static string Format(string recipePath, IReadOnlyList<ExportRefusal> refusals) =>
        $"{recipePath}: error LORA130: the recipe cannot be exported as is; nothing was written."
        + string.Concat(refusals.Select(r => Environment.NewLine + "  " + r));
}

/// <summary>One refused setting.</summary>
/// <param name="Key">The recipe key path, e.g. <c>lora.bias</c>.</param>
/// <param name="Value">The recipe's value, as YAML writes it.</param>
/// <param name="Engine">The engine and version, e.g. <c>LLaMA-Factory 0.9.3</c>.</param>
/// <param name="Reason">Why the engine cannot express it, and what to change.</param>
public sealed record ExportRefusal(string Key, string Value, string Engine, string Reason)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Key}: {Value} — {Engine} cannot express it: {Reason}";
}
