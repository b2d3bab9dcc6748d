using System.CommandLine;
using System.Globalization;
using LoraRecipes.Artifacts;
using LoraRecipes.IO;
using LoraRecipes.Recipes.Artifacts;
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
            var folder = AdapterFolder.Open(parse.GetValue(adapter)!, requireAdapter: false);
            var table = new Table().AddColumn("key").AddColumn("value");
            if (folder.HasConfig)
            {
                var c = folder.Config;
                table.AddRow("base model", Markup.Escape(c.BaseModelNameOrPath));
                table.AddRow("task", c.TaskType);
                table.AddRow("method", Markup.Escape(c.IsPromptLearning ? PromptMethod(c)
                    : c.IsFreeze ? $"freeze (blocks {string.Join(", ", c.LayersToTransform)} of {c.NumLayers}, modules {string.Join(", ", c.TrainableModules)}{(c.TrainHead ? ", head" : "")}; whole tensors under the base's names; ours, not loadable by PEFT, mergeable by substitution)"
                    : c.IsBottleneck ? $"bottleneck adapter (width {c.R}, {c.NonLinearity}, placement {c.Placement ?? "?"}; ours, not loadable by PEFT, not mergeable)"
                    : c.IsIa3 ? "IA3 (feed-forward: " + (c.FeedforwardModulesRegex ?? string.Join(", ", c.FeedforwardModules)) + ")"
                    : c.UseDora ? "LoRA + DoRA" : "LoRA") + (folder.Manifest?.Adapter?.Method is { Conversion: not null, Init: not null }
                    ? Markup.Escape($" (trained with {folder.Manifest.Adapter.Method.Init} init, saved converted to plain LoRA of the original base)") : ""));
                if (c.IsPrefixTuning)
                    table.AddRow("prefix", string.Format(CultureInfo.InvariantCulture, "{0} positions × {1} layers × key and value × token_dim {2} ({3} key/value heads)",
                        c.NumVirtualTokens, c.NumLayers, c.TokenDim, c.NumAttentionHeads));
                else if (c.IsPromptLearning)
                    table.AddRow("virtual tokens", string.Format(CultureInfo.InvariantCulture, "{0} × token_dim {1}", c.NumVirtualTokens, c.TokenDim));
                else
                {
                    if (!c.IsIa3 && !c.IsBottleneck && !c.IsFreeze) table.AddRow("rank / alpha", Markup.Escape(string.Format(CultureInfo.InvariantCulture, "r={0}, alpha={1}, scale={2:G4}{3}", c.R, c.LoraAlpha,
                        c.Scaling, c.UseRslora ? " (rsLoRA)" : "")));
                    table.AddRow("dropout", c.LoraDropout.ToString(CultureInfo.InvariantCulture));
                    table.AddRow("target_modules", Markup.Escape(c.TargetModulesRegex ?? string.Join(", ", c.TargetModules)));
                }
            }
            string weights = folder.File(ArtifactFiles.AdapterWeights);
            if (File.Exists(weights))
            {
                var (modules, parameters) = CountWeights(weights);
                if (folder.HasConfig && folder.Config.IsPromptLearning)
                {
                    // The file holds the prompt table (a p-tuning encoder's or a prefix projection's output) and any head;
                    // what trained (the encoder, the projection) is the manifest's count.
                    table.AddRow("saved parameters", parameters.ToString("N0", CultureInfo.InvariantCulture));
                    if (folder.Manifest?.Adapter is { TrainableParameters: > 0 } trained)
                        table.AddRow("trained parameters", trained.TrainableParameters.ToString("N0", CultureInfo.InvariantCulture));
                }
                else
                {
                    table.AddRow("adapted modules", modules.ToString(CultureInfo.InvariantCulture));
                    table.AddRow("trainable parameters", parameters.ToString("N0", CultureInfo.InvariantCulture));
                }
            }
            if (folder.Manifest is { } m)
            {
                table.AddRow("name", Markup.Escape(Str(m.Name)));
                table.AddRow("fingerprint", Markup.Escape(Str(m.Fingerprint)));
                table.AddRow("created", Markup.Escape(Str(m.CreatedUtc)));
                table.AddRow("tool", Markup.Escape($"LoraRecipes {Str(m.Tool?.Version)}, TorchSharp {Str(m.Tool?.TorchSharp)}, libtorch {Str(m.Tool?.LibTorch)}"));
                table.AddRow("trained on", Markup.Escape($"{Str(m.Environment?.Device)}, {Str(m.Environment?.Precision)}, {Str(m.Environment?.Threads)} threads"));
                table.AddRow("steps", Markup.Escape($"{Str(m.Steps)} in {Str(m.WallSeconds)} s ({Str(m.TokensPerSecond)} tokens/s)"));
                foreach (var (key, value) in m.Metrics)
                    table.AddRow(key.Replace('_', ' '), Markup.Escape(value is { } v ? v.ToString("G6", CultureInfo.InvariantCulture) : "-"));
                if (m.Provenance?.SourceRecipe is { } source)
                    table.AddRow("recipe", Markup.Escape(source + string.Concat((m.Provenance.Overrides ?? []).Select(o => $" --set {o}"))));
                if (m.Provenance?.TrainedBy is { } trainedBy) table.AddRow("trained by", Markup.Escape(trainedBy));
                if (m.Inputs.Count > 0) table.AddRow("inputs", m.Inputs.Count.ToString(CultureInfo.InvariantCulture) + " files (dotnet lora verify re-hashes them)");
            }
            console.MarkupLineInterpolated($"[bold]{folder.Path}[/]");
            console.Write(table);
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>PROMPT_TUNING / P_TUNING / PREFIX_TUNING: PEFT's type, how it started, and that nothing merges.</summary>
    private static string PromptMethod(PeftAdapterConfig c) => c.IsPrefixTuning
        ? $"prefix tuning ({(c.PrefixProjection ? $"trained through a projection MLP of width {c.EncoderHiddenSize}, saved projected" : "the prefix table trained directly")}; not mergeable)"
        : c.PeftType == PeftAdapterConfig.PTuningType
        ? $"p-tuning ({c.EncoderReparameterizationType} encoder, hidden {c.EncoderHiddenSize}; saved as the encoder's output; not mergeable)"
        : $"prompt tuning (init {c.PromptTuningInit}{(c.PromptTuningInitText is { } t ? $": \"{t}\"" : "")}; not mergeable)";

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

    private static string Str(object? value) => value switch
    {
        null => "-",
        double d => d.ToString(CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "-",
    };
}
