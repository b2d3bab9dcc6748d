using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace LoraRecipes.Bench.Survey;

/// <summary>
/// The survey's table (markdown, printed and written with <c>--markdown</c>) and JSON (<c>--json</c>). A classification
/// survey shows validation (and test) accuracy and macro-F1; a causal-LM survey the validation loss before → after.
/// Failed rows stay in the table with their error.
/// </summary>
internal static class SurveyReport
{
    /// <summary>The markdown table of <paramref name="rows"/>.</summary>
    public static string Table(IReadOnlyList<SurveyResult> rows)
    {
        bool classification = rows.Any(r => r.Classification);
        bool test = rows.Any(r => r.TestAccuracy is not null || r.TestLoss is not null);
        var header = new List<string> { "row", "method", "trainable parameters" };
        if (classification)
        {
            header.AddRange(["validation accuracy before → after", "validation macro-F1"]);
            if (test) header.AddRange(["test accuracy", "test macro-F1"]);
        }
        else
        {
            header.Add("validation loss before → after");
            if (test) header.Add("test loss");
        }
        header.AddRange(["steps", "training time", "tokens/s", "peak memory", "adapter size"]);
        var sb = new StringBuilder();
        sb.AppendLine("| " + string.Join(" | ", header) + " |");
        sb.AppendLine("|" + string.Concat(header.Select(_ => "---|")));
        foreach (var r in rows)
        {
            if (!r.Succeeded && r.Method is null)
            {
                // Nothing was measured: the error takes the row.
                sb.AppendLine($"| {r.Name} | **failed**: {Escape(r.Error!)} |" + string.Concat(Enumerable.Repeat(" |", header.Count - 2)));
                continue;
            }
            var cells = new List<string> { r.Name, r.Method ?? "", Count(r.TrainableParameters) };
            if (classification)
            {
                cells.Add($"{Percent(r.InitialValidationAccuracy)} → {Percent(r.FinalValidationAccuracy)}");
                cells.Add(Fixed(r.FinalValidationF1, "F3"));
                if (test) cells.AddRange([Percent(r.TestAccuracy), Fixed(r.TestF1, "F3")]);
            }
            else
            {
                cells.Add($"{Fixed(r.InitialValidationLoss, "F4")} → {Fixed(r.FinalValidationLoss, "F4")}");
                if (test) cells.Add(Fixed(r.TestLoss, "F4"));
            }
            cells.AddRange([r.Steps?.ToString(CultureInfo.InvariantCulture) ?? "–", Seconds(r.TrainSeconds), Fixed(r.TokensPerSecond, "F0"), Mib(r.PeakMemoryBytes), Size(r.AdapterBytes)]);
            if (!r.Succeeded) cells[1] += $" (**failed**: {Escape(r.Error!)})";
            sb.AppendLine("| " + string.Join(" | ", cells) + " |");
        }
        return sb.ToString();
    }

    /// <summary>The survey as JSON: what ran (file, recipe, test file, command, machine) and every row.</summary>
    public static JsonObject Json(SurveySpec spec, IReadOnlyList<SurveyResult> rows, IReadOnlyList<string> extraOverrides, string command, DateTime startedUtc, DateTime endedUtc) => new()
    {
        ["survey"] = spec.File,
        ["recipe"] = spec.Recipe,
        ["test"] = spec.Test,
        ["overrides"] = new JsonArray(spec.Overrides.Concat(extraOverrides).Select(o => (JsonNode?)JsonValue.Create(o)).ToArray()),
        ["command"] = command,
        ["started_utc"] = startedUtc.ToString("O", CultureInfo.InvariantCulture),
        ["ended_utc"] = endedUtc.ToString("O", CultureInfo.InvariantCulture),
        ["logical_cpus"] = Environment.ProcessorCount,
        ["rows"] = new JsonArray(rows.Select(r => (JsonNode?)r.ToJson()).ToArray()),
    };

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");

    private static string Count(long? n) => n is { } v ? v.ToString("N0", CultureInfo.InvariantCulture) : "–";

    private static string Percent(double? fraction) => fraction is { } f ? (100 * f).ToString("F1", CultureInfo.InvariantCulture) + " %" : "–";

    private static string Fixed(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "–";

    private static string Seconds(double? s) => s is { } v ? v.ToString("F1", CultureInfo.InvariantCulture) + " s" : "–";

    private static string Mib(long? bytes) => bytes is { } b ? (b / (1024.0 * 1024.0)).ToString("N0", CultureInfo.InvariantCulture) + " MiB" : "–";

    /// <summary>Bytes below 1 MiB in KiB, else in MiB (one decimal).</summary>
    private static string Size(long? bytes) => bytes switch
    {
        null => "–",
        < 1024 * 1024 => (bytes.Value / 1024.0).ToString("F1", CultureInfo.InvariantCulture) + " KiB",
        _ => (bytes.Value / (1024.0 * 1024.0)).ToString("F1", CultureInfo.InvariantCulture) + " MiB",
    };
}
