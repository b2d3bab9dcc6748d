using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.IO;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora inspect &lt;adapter&gt;</c>: config, targets, parameter count, fingerprint and metrics.</summary>
internal static class InspectCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var adapter = new Argument<string>("adapter") { Description = "Adapter or artifact folder." };
        var command = new Command("inspect", "Show an adapter: PEFT config, adapted modules, parameter count, fingerprint and final metrics.") { adapter };
        command.SetAction(parse => Failures.Guard(console, () =>
        {
            var folder = ArtifactFolder.Open(parse.GetValue(adapter)!);
            var table = new Table().AddColumn("key").AddColumn("value");
            if (folder.Config is { } c)
            {
                table.AddRow("base model", Markup.Escape(c.BaseModelNameOrPath));
                table.AddRow("task", c.TaskType);
                table.AddRow("method", Markup.Escape(c.IsIa3 ? "IA3 (feed-forward: " + (c.FeedforwardModulesRegex ?? string.Join(", ", c.FeedforwardModules)) + ")"
                    : c.UseDora ? "LoRA + DoRA" : "LoRA") + (folder.Manifest?["adapter"]?["method"]?["init"] is JsonNode init && Str(init) is "pissa" or "olora"
                    ? Markup.Escape($" (trained with {Str(init)} init, saved converted to plain LoRA of the original base)") : ""));
                if (!c.IsIa3) table.AddRow("rank / alpha", Markup.Escape(string.Format(CultureInfo.InvariantCulture, "r={0}, alpha={1}, scale={2:G4}{3}", c.R, c.LoraAlpha,
                    c.UseRslora ? c.LoraAlpha / Math.Sqrt(c.R) : c.LoraAlpha / c.R, c.UseRslora ? " (rsLoRA)" : "")));
                table.AddRow("dropout", c.LoraDropout.ToString(CultureInfo.InvariantCulture));
                table.AddRow("target_modules", Markup.Escape(c.TargetModulesRegex ?? string.Join(", ", c.TargetModules)));
            }
            string weights = folder.File(ArtifactWriter.AdapterWeightsFile);
            if (File.Exists(weights))
            {
                var (modules, parameters) = CountWeights(weights);
                table.AddRow("adapted modules", modules.ToString(CultureInfo.InvariantCulture));
                table.AddRow("trainable parameters", parameters.ToString("N0", CultureInfo.InvariantCulture));
            }
            if (folder.Manifest is { } m)
            {
                table.AddRow("name", Markup.Escape(Str(m["name"])));
                table.AddRow("fingerprint", Markup.Escape(Str(m["fingerprint"])));
                table.AddRow("created", Markup.Escape(Str(m["created_utc"])));
                table.AddRow("tool", Markup.Escape($"LoraRecipes {Str(m["tool"]?["version"])}, TorchSharp {Str(m["tool"]?["torchsharp"])}, libtorch {Str(m["tool"]?["libtorch"])}"));
                table.AddRow("trained on", Markup.Escape($"{Str(m["environment"]?["device"])}, {Str(m["environment"]?["precision"])}, {Str(m["environment"]?["threads"])} threads"));
                table.AddRow("steps", Markup.Escape($"{Str(m["steps"])} in {Str(m["wall_seconds"])} s ({Str(m["tokens_per_second"])} tokens/s)"));
                if (m["metrics"] is JsonObject metrics)
                {
                    foreach (var (key, value) in metrics)
                        table.AddRow(key.Replace('_', ' '), Markup.Escape(value is null ? "-" : Number(value)));
                }
                if (m["inputs"] is JsonArray inputs) table.AddRow("inputs", inputs.Count.ToString(CultureInfo.InvariantCulture) + " files (dotnet lora verify re-hashes them)");
            }
            console.MarkupLineInterpolated($"[bold]{folder.Path}[/]");
            console.Write(table);
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>Modules (distinct A/B pairs) and parameters in an adapter file, read from the header only.</summary>
    internal static (int Modules, long Parameters) CountWeights(string path)
    {
        using var file = SafetensorsFile.Open(path);
        long parameters = 0;
        var modules = new HashSet<string>(StringComparer.Ordinal);
        foreach (var info in file.Tensors)
        {
            parameters += info.Shape.Aggregate(1L, (a, b) => a * b);
            if (AdapterKeys.ParseTensor(info.Name) is { } key) modules.Add(key.ModulePath);
        }
        return (modules.Count, parameters);
    }

    private static string Str(JsonNode? node) => node switch
    {
        null => "-",
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String => v.GetValue<string>(),
        _ => node.ToJsonString(),
    };

    private static string Number(JsonNode node) =>
        node is JsonValue v && v.TryGetValue(out double d) ? d.ToString("G6", CultureInfo.InvariantCulture) : node.ToJsonString();
}
