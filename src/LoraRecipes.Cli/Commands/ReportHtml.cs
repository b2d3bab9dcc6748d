using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using LoraRecipes.Artifacts;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Cli.Commands;

/// <summary>The HTML of <c>dotnet lora report</c>: inline CSS, the loss curve as an embedded PNG, no scripts or links.</summary>
internal static class ReportHtml
{
    public static string Render(AdapterFolder folder)
    {
        var m = folder.Manifest;
        string name = m?.Name ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(folder.Path));
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<title>").Append(E(name)).Append(" — LoRA report</title>")
            .Append("<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}")
            .Append("h1{margin-bottom:.2em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}")
            .Append("th{background:#f4f4f4}pre{background:#f8f8f8;border:1px solid #ddd;padding:.8em;overflow:auto;font-size:.85em}")
            .Append(".muted{color:#777}img{max-width:100%}</style></head><body>\n");
        html.Append("<h1>").Append(E(name)).Append("</h1>\n<p class=\"muted\">").Append(E(folder.Path)).Append("</p>\n");

        html.Append("<h2>Summary</h2>\n<table>");
        Row(html, "base model", m?.BaseModel?.Spec ?? (folder.HasConfig ? folder.Config.BaseModelNameOrPath : null));
        if (folder.HasConfig)
        {
            var c = folder.Config;
            Row(html, "LoRA", string.Format(CultureInfo.InvariantCulture, "r={0}, alpha={1}, dropout={2}{3}", c.R, c.LoraAlpha, c.LoraDropout, c.UseRslora ? ", rsLoRA" : ""));
            Row(html, "target modules", c.TargetModulesRegex ?? string.Join(", ", c.TargetModules));
        }
        if (m is not null)
        {
            Row(html, "fingerprint", m.Fingerprint);
            Row(html, "created (UTC)", m.CreatedUtc);
            Row(html, "trainable parameters", Num(m.Adapter?.TrainableParameters, "N0"));
            Row(html, "steps", Num(m.Steps, "0"));
            Row(html, "wall time", Num(m.WallSeconds, "0.0") + " s");
            Row(html, "throughput", Num(m.TokensPerSecond, "0.0") + " tokens/s");
            Row(html, "device", $"{m.Environment?.Device}, {m.Environment?.Precision}, {Num(m.Environment?.Threads, "0")} threads");
            Row(html, "tool", $"LoraRecipes {m.Tool?.Version}, TorchSharp {m.Tool?.TorchSharp}, libtorch {m.Tool?.LibTorch}");
            if (m.Provenance?.SourceRecipe is { } source)
                Row(html, "recipe", source + string.Concat((m.Provenance.Overrides ?? []).Select(o => $" --set {o}")));
        }
        html.Append("</table>\n");

        if (m is { Metrics.Count: > 0 })
        {
            html.Append("<h2>Metrics</h2>\n<table>");
            foreach (var (key, value) in m.Metrics) Row(html, key.Replace('_', ' '), Num(value, "G6"));
            html.Append("</table>\n");
        }

        LossSection(html, folder);
        SamplesSection(html, folder);

        string recipe = folder.File(ArtifactFiles.ResolvedRecipe);
        if (File.Exists(recipe))
            html.Append("<h2>Plan (recipe.resolved.yaml)</h2>\n<pre>").Append(E(File.ReadAllText(recipe))).Append("</pre>\n");
        html.Append("<p class=\"muted\">Written by dotnet lora report ").Append(E(ToolInfo.Version)).Append(".</p>\n</body></html>\n");
        return html.ToString();
    }

    private static void LossSection(StringBuilder html, AdapterFolder folder)
    {
        string png = folder.File(ArtifactFiles.LossPlot);
        string metrics = folder.File(ArtifactFiles.Metrics);
        byte[]? bytes = File.Exists(png) ? File.ReadAllBytes(png)
            : File.Exists(metrics) ? LossPlot.Png(LossCurves.FromJsonLines(metrics)) : null;
        if (bytes is null) return;
        html.Append("<h2>Loss</h2>\n<img alt=\"training and validation loss against step\" src=\"data:image/png;base64,")
            .Append(Convert.ToBase64String(bytes)).Append("\">\n");
    }

    private static void SamplesSection(StringBuilder html, AdapterFolder folder)
    {
        string metrics = folder.File(ArtifactFiles.Metrics);
        if (!File.Exists(metrics)) return;
        var samples = new List<(string Step, string Prompt, string Completion)>();
        foreach (string line in File.ReadLines(metrics))
        {
            if (!line.Contains("\"sample\"", StringComparison.Ordinal)) continue;
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.GetProperty("type").GetString() != "sample") continue;
            samples.Add((root.GetProperty("step").ToString(), root.GetProperty("prompt").GetString() ?? "", root.GetProperty("completion").GetString() ?? ""));
        }
        if (samples.Count == 0) return;
        html.Append("<h2>Sample generations</h2>\n<table><tr><th>step</th><th>prompt</th><th>completion</th></tr>");
        foreach (var (step, prompt, completion) in samples)
            html.Append("<tr><td>").Append(E(step)).Append("</td><td>").Append(E(prompt)).Append("</td><td><pre>").Append(E(completion)).Append("</pre></td></tr>");
        html.Append("</table>\n");
    }

    private static void Row(StringBuilder html, string key, string? value) =>
        html.Append("<tr><th>").Append(E(key)).Append("</th><td>").Append(E(value ?? "-")).Append("</td></tr>");

    private static string Num(double? value, string format) =>
        value is { } d ? d.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
