using System.Globalization;
using System.Text.RegularExpressions;
using LoraRecipes.Recipes.Yaml;

namespace LoraRecipes.Recipes.Schema;

/// <summary>
/// Turns one YAML value into the typed value its schema entry asks for (string, long, double, bool,
/// string[]), reporting wrong types, ranges, choices and formats. Plain scalars follow the YAML 1.2
/// core schema; quoted scalars are always text.
/// </summary>
internal static partial class ValueReader
{
    /// <summary>Reads <paramref name="node"/> for <paramref name="entry"/>; false (with a diagnostic) when invalid.</summary>
    public static bool TryRead(RecipeSchemaEntry entry, YamlNode node, List<RecipeDiagnostic> diagnostics, out object? value)
    {
        value = null;
        if (node is YamlScalar { IsNull: true })
        {
            if (entry.Nullable)
            {
                return true;
            }

            return Fail(diagnostics, node, RecipeErrorCodes.WrongType, $"{entry.Path} cannot be null", HintFor(entry));
        }

        value = entry.Type switch
        {
            RecipeValueType.String => ReadString(entry, node, diagnostics),
            RecipeValueType.Integer => ReadInteger(entry, node, diagnostics),
            RecipeValueType.Number => ReadNumber(entry, node, diagnostics),
            RecipeValueType.Boolean => ReadBoolean(entry, node, diagnostics),
            RecipeValueType.Choice => ReadChoice(entry, node, diagnostics),
            RecipeValueType.StringList => ReadList(entry, node, diagnostics, item => ReadText(entry, item, diagnostics)),
            RecipeValueType.ChoiceList => ReadList(entry, node, diagnostics, item => ReadChoice(entry, item, diagnostics)),
            RecipeValueType.ModuleList => ReadModules(entry, node, diagnostics),
            RecipeValueType.Schedule => ReadSchedule(entry, node, diagnostics),
            _ => throw new InvalidOperationException($"{entry.Path} is a section, not a value."),
        };
        return value is not null;
    }

    private static string? ReadString(RecipeSchemaEntry entry, YamlNode node, List<RecipeDiagnostic> diagnostics)
    {
        var text = ReadText(entry, node, diagnostics);
        if (text is not null && entry.Pattern is { } pattern && !Regex.IsMatch(text, pattern))
        {
            var allowed = entry.Allowed.Count > 0 ? $"one of {string.Join(", ", entry.Allowed)}" : $"text matching {pattern}";
            Fail(diagnostics, node, RecipeErrorCodes.InvalidFormat, $"{entry.Path} must be {allowed}, got '{text}'", HintFor(entry));
            return null;
        }

        return text;
    }

    private static string? ReadText(RecipeSchemaEntry entry, YamlNode node, List<RecipeDiagnostic> diagnostics)
    {
        if (node is YamlScalar { IsNull: false } scalar)
        {
            return scalar.Value;
        }

        Fail(diagnostics, node, RecipeErrorCodes.WrongType, $"{entry.Path} must be text, got {node.Describe()}", HintFor(entry));
        return null;
    }

    private static object? ReadInteger(RecipeSchemaEntry entry, YamlNode node, List<RecipeDiagnostic> diagnostics)
    {
        if (node is not YamlScalar { IsPlain: true } scalar || !IntegerSyntax().IsMatch(scalar.Value))
        {
            Fail(diagnostics, node, RecipeErrorCodes.WrongType, $"{entry.Path} must be an integer, got {node.Describe()}", HintFor(entry));
            return null;
        }

        if (!long.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
            || number is > int.MaxValue or < int.MinValue)
        {
            Fail(diagnostics, node, RecipeErrorCodes.OutOfRange, $"{entry.Path} is too large ({scalar.Value})", HintFor(entry));
            return null;
        }

        return CheckRange(entry, node, number, diagnostics) ? number : null;
    }

    private static object? ReadNumber(RecipeSchemaEntry entry, YamlNode node, List<RecipeDiagnostic> diagnostics)
    {
        if (node is not YamlScalar { IsPlain: true } scalar || !NumberSyntax().IsMatch(scalar.Value)
            || !double.TryParse(scalar.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            || !double.IsFinite(number))
        {
            Fail(diagnostics, node, RecipeErrorCodes.WrongType, $"{entry.Path} must be a number, got {node.Describe()}", HintFor(entry));
            return null;
        }

        return CheckRange(entry, node, number, diagnostics) ? number : null;
    }

    private static object? ReadBoolean(RecipeSchemaEntry entry, YamlNode node, List<RecipeDiagnostic> diagnostics)
    {
        if (node is YamlScalar { IsPlain: true } scalar)
        {
            switch (scalar.Value)
            {
                case "true" or "True" or "TRUE":
                    return true;
                case "false" or "False" or "FALSE":
                    return false;
            }
        }

        Fail(diagnostics, node, RecipeErrorCodes.WrongType, $"{entry.Path} must be true or false, got {node.Describe()}",
            "Write true or false (YAML 1.1's yes/no/on/off are not booleans here).");
        return null;
    }

    private static string? ReadChoice(RecipeSchemaEntry entry, YamlNode node, List<RecipeDiagnostic> diagnostics)
    {
        var text = ReadText(entry, node, diagnostics);
        // A choice with a pattern also takes any text matching it in full (lora.init: pissa_niter_N).
        if (text is null || entry.Allowed.Contains(text, StringComparer.Ordinal)
            || (entry.Pattern is { } pattern && Regex.IsMatch(text, pattern)))
        {
            return text;
        }

        var suggestion = Suggestions.DidYouMean(text, entry.Allowed);
        Fail(diagnostics, node, RecipeErrorCodes.InvalidChoice,
            $"{entry.Path} must be one of {string.Join(", ", entry.Allowed)}{(entry.Pattern is { } p ? $" or match {p}" : "")}; got '{text}'",
            $"{suggestion}Pick one of the listed values.".Trim());
        return null;
    }

    private static string[]? ReadList(RecipeSchemaEntry entry, YamlNode node, List<RecipeDiagnostic> diagnostics, Func<YamlNode, string?> readItem)
    {
        if (node is not YamlSequence sequence)
        {
            Fail(diagnostics, node, RecipeErrorCodes.WrongType, $"{entry.Path} must be a list, got {node.Describe()}",
                "Write a list such as [a, b], or one '- item' per line.");
            return null;
        }

        var items = sequence.Items.Select(readItem).ToList();
        return items.Any(i => i is null) ? null : items.Select(i => i!).ToArray();
    }

    private static string[]? ReadModules(RecipeSchemaEntry entry, YamlNode node, List<RecipeDiagnostic> diagnostics)
    {
        if (node is YamlScalar { IsNull: false } scalar)
        {
            if (scalar.Value == entry.Keyword)
            {
                return [entry.Keyword];
            }

            Fail(diagnostics, node, RecipeErrorCodes.WrongType, $"{entry.Path} must be a list or {entry.Keyword}, got {node.Describe()}",
                $"Write [{scalar.Value}] for a single module, or {entry.Keyword}.");
            return null;
        }

        var modules = ReadList(entry, node, diagnostics, item => ReadText(entry, item, diagnostics));
        if (modules is null)
        {
            return null;
        }

        // An empty list (no LoRA module: the classification head alone trains) is checked against the task in RecipeBinder.
        var ok = true;
        if (modules.Length > 1 && modules.Contains(entry.Keyword))
        {
            ok = Fail(diagnostics, node, RecipeErrorCodes.Conflict, $"{entry.Path} mixes {entry.Keyword} with other modules", $"Write either {entry.Keyword} or a list of modules.");
        }

        var items = ((YamlSequence)node).Items;
        for (var i = 0; i < modules.Length; i++)
        {
            ok &= CheckRegex(entry, items[i], modules[i], diagnostics);
        }

        return ok ? modules : null;
    }

    private static bool CheckRegex(RecipeSchemaEntry entry, YamlNode node, string module, List<RecipeDiagnostic> diagnostics)
    {
        if (!module.StartsWith("re:", StringComparison.Ordinal))
        {
            return true;
        }

        try
        {
            _ = new Regex(module[3..], RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            return true;
        }
        catch (ArgumentException e)
        {
            return Fail(diagnostics, node, RecipeErrorCodes.InvalidRegex, $"{entry.Path} entry '{module}' is not a valid regular expression: {e.Message.TrimEnd('.')}",
                "Fix the pattern after 're:' (.NET regex syntax; it must match the whole module path).");
        }
    }

    private static object? ReadSchedule(RecipeSchemaEntry entry, YamlNode node, List<RecipeDiagnostic> diagnostics)
    {
        if (node is YamlScalar { Value: "epoch" or "never" } word)
        {
            return word.Value;
        }

        if (node is YamlScalar { IsPlain: true } scalar && IntegerSyntax().IsMatch(scalar.Value))
        {
            var steps = long.TryParse(scalar.Value, CultureInfo.InvariantCulture, out var n) ? n : long.MaxValue;
            if (steps is >= 1 and <= int.MaxValue)
            {
                return steps;
            }

            Fail(diagnostics, node, RecipeErrorCodes.OutOfRange, $"{entry.Path} must be a positive number of steps, got {scalar.Value}", HintFor(entry));
            return null;
        }

        Fail(diagnostics, node, RecipeErrorCodes.InvalidChoice, $"{entry.Path} must be epoch, never or a number of steps; got {node.Describe()}", HintFor(entry));
        return null;
    }

    private static bool CheckRange(RecipeSchemaEntry entry, YamlNode node, double value, List<RecipeDiagnostic> diagnostics)
    {
        var tooLow = entry.Minimum is { } min && (entry.ExclusiveMinimum ? value <= min : value < min);
        var tooHigh = entry.Maximum is { } max && (entry.ExclusiveMaximum ? value >= max : value > max);
        if (!tooLow && !tooHigh)
        {
            return true;
        }

        var got = value.ToString(CultureInfo.InvariantCulture);
        return Fail(diagnostics, node, RecipeErrorCodes.OutOfRange, $"{entry.Path} must be {entry.DescribeRange()}, got {got}", HintFor(entry));
    }

    /// <summary>A hint naming the expected type and default.</summary>
    public static string HintFor(RecipeSchemaEntry entry)
    {
        var expected = entry.Type switch
        {
            RecipeValueType.Integer => "a whole number",
            RecipeValueType.Number => "a number such as 0.1 or 2e-4",
            RecipeValueType.Choice or RecipeValueType.String when entry.Allowed.Count > 0 => $"one of {string.Join(", ", entry.Allowed)}",
            RecipeValueType.Schedule => "epoch, never, or a number of steps",
            RecipeValueType.StringList or RecipeValueType.ChoiceList or RecipeValueType.ModuleList => "a list such as [a, b]",
            _ => "text",
        };
        var range = entry.DescribeRange() is { } r ? $" {r}" : "";
        var nullable = entry.Nullable ? " (or null)" : "";
        return $"Expected {expected}{range}{nullable}: {entry.Doc}";
    }

    private static bool Fail(List<RecipeDiagnostic> diagnostics, YamlNode node, string code, string message, string hint)
    {
        diagnostics.Add(RecipeDiagnostic.Error(node.Location, code, message, hint));
        return false;
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntegerSyntax();

    // YAML 1.2 core-schema numbers in decimal notation (no .inf/.nan, no hex).
    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex NumberSyntax();
}
