using LoraRecipes.Recipes.Yaml;

namespace LoraRecipes.Recipes.Schema;

/// <summary>
/// Validates a merged recipe tree against <see cref="RecipeSchema"/>: unknown keys (with did-you-mean),
/// types, ranges, choices, required keys and cross-key rules. Produces the typed value and position of
/// every key that was written; all problems are reported, not just the first.
/// </summary>
internal sealed class RecipeBinder
{
    private readonly List<RecipeDiagnostic> _diagnostics;
    private readonly Dictionary<string, SourceLocation> _sections = new(StringComparer.Ordinal);

    private RecipeBinder(List<RecipeDiagnostic> diagnostics) => _diagnostics = diagnostics;

    /// <summary>Typed values by dotted path, for keys present in the YAML.</summary>
    public Dictionary<string, object?> Values { get; } = new(StringComparer.Ordinal);

    /// <summary>Position of each value by dotted path.</summary>
    public Dictionary<string, SourceLocation> Locations { get; } = new(StringComparer.Ordinal);

    /// <summary>Validates <paramref name="root"/>; the binder holds what could be read even when there were errors.</summary>
    public static RecipeBinder Bind(YamlNode root, List<RecipeDiagnostic> diagnostics)
    {
        var binder = new RecipeBinder(diagnostics);
        if (root is not YamlMapping map)
        {
            diagnostics.Add(RecipeDiagnostic.Error(root.Location, RecipeErrorCodes.NotARecipe,
                $"A recipe is a map of keys, not {root.Describe()}", "Start with 'name:' and 'base_model:'."));
            return binder;
        }

        binder.BindSection(map, "");
        binder.CheckRequired();
        binder.CheckCombinations();
        binder.CheckMethodSettings();
        binder.CheckFreeze();
        binder.CheckEarlyStopping();
        return binder;
    }

    private void BindSection(YamlMapping map, string section)
    {
        _sections[section] = map.Location;
        foreach (var entry in map.Entries)
        {
            var path = section.Length == 0 ? entry.Key : $"{section}.{entry.Key}";
            var schema = RecipeSchema.Find(path);
            if (schema is null)
            {
                ReportUnknown(entry, section);
                continue;
            }

            if (schema.Type != RecipeValueType.Section)
            {
                Locations[path] = entry.Value.Location;
                if (ValueReader.TryRead(schema, entry.Value, _diagnostics, out var value))
                {
                    Values[path] = value;
                }

                continue;
            }

            switch (entry.Value)
            {
                case YamlMapping child:
                    BindSection(child, path);
                    break;
                case YamlScalar { IsNull: true }:
                    _sections[path] = entry.KeyLocation; // "lora:" with nothing under it: all defaults.
                    break;
                default:
                    _diagnostics.Add(RecipeDiagnostic.Error(entry.Value.Location, RecipeErrorCodes.WrongType,
                        $"{path} must be a map of keys, got {entry.Value.Describe()}",
                        $"Write '{entry.Key}:' followed by indented keys such as {string.Join(", ", RecipeSchema.ChildrenOf(path).Take(3).Select(c => c.Key))}."));
                    break;
            }
        }
    }

    private void ReportUnknown(YamlEntry entry, string section)
    {
        var siblings = RecipeSchema.ChildrenOf(section).Select(e => e.Key).ToList();
        var where = section.Length == 0 ? "at the top level" : $"in {section}";
        var hint = Suggestions.Closest(entry.Key, siblings) is { } match
            ? $"Did you mean '{match}'?"
            : RecipeSchema.Entries.FirstOrDefault(e => e.Key == entry.Key) is { } elsewhere
                ? $"'{entry.Key}' belongs under '{elsewhere.Parent}:' ({elsewhere.Path})."
                : $"Known keys {where}: {string.Join(", ", siblings)}.";
        _diagnostics.Add(RecipeDiagnostic.Error(entry.KeyLocation, RecipeErrorCodes.UnknownKey,
            $"Unknown key '{entry.Key}' {where}", hint));
    }

    private void CheckRequired()
    {
        foreach (var entry in RecipeSchema.Entries.Where(e => e.Required && !Locations.ContainsKey(e.Path)))
        {
            // Point at the innermost map that exists: the section itself, or the map that should hold it.
            var section = entry.Parent;
            while (section.Length > 0 && !_sections.ContainsKey(section))
            {
                section = section.Contains('.') ? section[..section.LastIndexOf('.')] : "";
            }

            var at = _sections.GetValueOrDefault(section);
            _diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.MissingRequiredKey,
                $"Missing required key '{entry.Path}'", $"Add it: {entry.Doc}"));
        }
    }

    private void CheckCombinations()
    {
        if (Values.GetValueOrDefault("data.validation") is string && Values.GetValueOrDefault("data.validation_split") is > 0.0)
        {
            _diagnostics.Add(RecipeDiagnostic.Warning(Locations["data.validation_split"], RecipeErrorCodes.IgnoredValue,
                "data.validation_split is ignored because data.validation names a file", "Remove data.validation_split, or set data.validation: null."));
        }

        var task = Values.GetValueOrDefault("task") as string ?? "causal-lm";
        var format = Values.GetValueOrDefault("data.format") as string ?? "alpaca";
        var classification = task == "sequence-classification";
        if (classification != (format == "classification"))
        {
            var at = Locations.TryGetValue("data.format", out var f) ? f : Locations.GetValueOrDefault("task", _sections.GetValueOrDefault(""));
            _diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.Conflict,
                $"task {task} does not go with data.format {format}",
                classification ? "Use data.format: classification (text/label records)." : "Use data.format alpaca, messages or text for causal-lm, or task: sequence-classification."));
        }

        // Combinations `run` cannot carry out are refused here, where the recipe's position is known.
        if (!classification && Values.GetValueOrDefault("lora.modules_to_save") is IReadOnlyList<string> { Count: > 0 })
        {
            _diagnostics.Add(RecipeDiagnostic.Error(Locations["lora.modules_to_save"], RecipeErrorCodes.Conflict,
                "lora.modules_to_save is supported for task sequence-classification only", "Remove lora.modules_to_save, or use task: sequence-classification."));
        }

        if (classification && Values.GetValueOrDefault("data.packing") is true)
        {
            _diagnostics.Add(RecipeDiagnostic.Error(Locations["data.packing"], RecipeErrorCodes.Conflict,
                "data.packing is for causal-lm: a classification example is one text and one label", "Set data.packing: false."));
        }

        foreach (var key in new[] { "data.prompt_template", "data.train_on_inputs" }.Where(k => classification && Locations.ContainsKey(k)))
        {
            _diagnostics.Add(RecipeDiagnostic.Warning(Locations[key], RecipeErrorCodes.IgnoredValue,
                $"{key} has no effect for task sequence-classification (the text is classified as written)", $"Remove {key}."));
        }

        if (Values.GetValueOrDefault("evaluation.metrics") is IReadOnlyList<string> metrics)
        {
            string[] allowed = classification ? ["loss", "accuracy", "f1"] : ["loss", "perplexity", "exact_match", "bleu", "rouge_l"];
            foreach (var metric in metrics.Where(m => !allowed.Contains(m)))
            {
                _diagnostics.Add(RecipeDiagnostic.Error(Locations["evaluation.metrics"], RecipeErrorCodes.Conflict,
                    $"evaluation.metrics: {metric} is not computed for task {task}", $"Use {string.Join(", ", allowed)}."));
            }

            if (!classification && format != "alpaca" && metrics.Any(m => m is "exact_match" or "bleu" or "rouge_l"))
            {
                _diagnostics.Add(RecipeDiagnostic.Error(Locations["evaluation.metrics"], RecipeErrorCodes.Conflict,
                    $"evaluation.metrics: exact_match, bleu and rouge_l need alpaca records (a prompt and a reference output); data.format is {format}",
                    "Use data.format: alpaca, or keep loss and perplexity."));
            }
        }

        // target_modules: [] adapts no linear layer. Only a classifier still has something to train then: its head
        // (modules_to_save), over a frozen encoder, the seeds' "frozen encoder, head only" baseline.
        if (Values.GetValueOrDefault("lora.target_modules") is string[] { Length: 0 } && !classification)
        {
            _diagnostics.Add(RecipeDiagnostic.Error(Locations["lora.target_modules"], RecipeErrorCodes.OutOfRange,
                "lora.target_modules is empty", "Name at least one module, e.g. [q_proj, v_proj], or all-linear (an empty list, training the head alone, is for task: sequence-classification)."));
        }
    }

    /// <summary>
    /// The prompt methods' own rules: <c>init: text</c> needs <c>init_text</c> (and <c>init_text</c> without it is ignored),
    /// the MLP encoder has a fixed depth (PEFT ignores <c>encoder_num_layers</c> there), a prefix's <c>encoder_hidden_size</c>
    /// needs <c>prefix_projection</c>, and neither virtual tokens nor a prefix can join packed rows.
    /// </summary>
    private void CheckPromptSettings(string method)
    {
        SourceLocation At(string key, string fallback) => Locations.TryGetValue(key, out var at) ? at : Locations.GetValueOrDefault(fallback);
        if (method == "prompt_tuning")
        {
            bool text = Values.GetValueOrDefault("prompt_tuning.init") is "text";
            bool hasText = Values.GetValueOrDefault("prompt_tuning.init_text") is string { Length: > 0 };
            if (text && !hasText)
                _diagnostics.Add(RecipeDiagnostic.Error(At("prompt_tuning.init", "method"), RecipeErrorCodes.Conflict,
                    "prompt_tuning.init is text but prompt_tuning.init_text is not set", "Add prompt_tuning.init_text: \"<a task description>\", or use init: random."));
            if (!text && hasText && Locations.TryGetValue("prompt_tuning.init_text", out var textAt))
                _diagnostics.Add(RecipeDiagnostic.Warning(textAt, RecipeErrorCodes.IgnoredValue,
                    "prompt_tuning.init_text has no effect with init: random", "Add prompt_tuning.init: text, or remove init_text."));
        }
        if (method == "p_tuning" && Values.GetValueOrDefault("p_tuning.encoder") is not "lstm")
        {
            foreach (var key in new[] { "p_tuning.encoder_num_layers", "p_tuning.encoder_dropout" })
            {
                if (Locations.TryGetValue(key, out var at) && !IsDefault(key, Values.GetValueOrDefault(key)))
                    _diagnostics.Add(RecipeDiagnostic.Warning(at, RecipeErrorCodes.IgnoredValue,
                        $"{key} has no effect with encoder: mlp (PEFT's MLP encoder has three linear layers and no dropout)", $"Remove {key}, or use encoder: lstm."));
            }
        }
        if (method == "prefix_tuning" && Values.GetValueOrDefault("prefix_tuning.prefix_projection") is not true
            && Locations.TryGetValue("prefix_tuning.encoder_hidden_size", out var hiddenAt) && Values.GetValueOrDefault("prefix_tuning.encoder_hidden_size") is not null)
            _diagnostics.Add(RecipeDiagnostic.Warning(hiddenAt, RecipeErrorCodes.IgnoredValue,
                "prefix_tuning.encoder_hidden_size has no effect without prefix_projection: true (the prefix table trains directly)",
                "Add prefix_tuning.prefix_projection: true, or remove encoder_hidden_size."));
        if (method is "prompt_tuning" or "p_tuning" or "prefix_tuning" && Values.GetValueOrDefault("data.packing") is true)
            _diagnostics.Add(RecipeDiagnostic.Error(At("data.packing", "method"), RecipeErrorCodes.Conflict,
                method == "prefix_tuning"
                    ? "data.packing cannot be used with method prefix_tuning: the prefix is the past of one sequence, and a packed row holds several"
                    : $"data.packing cannot be used with method {method}: the virtual tokens go before each example, and a packed row holds several",
                "Set data.packing: false."));
    }

    /// <summary>
    /// Settings of one method under another are refused by name: DoRA/PiSSA/OLoRA (<c>lora.use_dora</c>, <c>lora.init</c>)
    /// with <c>method: ia3</c>, and <c>ia3.*</c> with <c>method: lora</c>. The plain LoRA shape (<c>lora.r</c>, alpha,
    /// dropout, target_modules, use_rslora) is only a warning under ia3, so one recipe can be swept across methods with
    /// <c>--set method=ia3</c>; <c>lora.modules_to_save</c> (the classification head) applies to every method.
    /// </summary>
    private void CheckMethodSettings()
    {
        var method = Values.GetValueOrDefault("method") as string ?? "lora";
        if (method != "lora")
        {
            foreach (var (key, isDefault) in new (string, Func<object?, bool>)[] { ("lora.use_dora", v => v is false), ("lora.init", v => v is "default") })
            {
                if (Locations.TryGetValue(key, out var at) && Values.TryGetValue(key, out var value) && !isDefault(value))
                    _diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.Conflict,
                        $"{key} is a LoRA setting; method is {method}", $"Remove {key}, or use method: lora."));
            }

            string why = method switch
            {
                "ia3" => "IA3 trains one scaling vector per target, set by ia3.target_modules",
                "freeze" => "freeze trains whole blocks, chosen by freeze.trainable_layers and freeze.modules",
                "prompt_tuning" or "p_tuning" => $"{method} trains virtual tokens before the input, set by {method}.num_virtual_tokens",
                "prefix_tuning" => "prefix_tuning trains past keys and values for every attention layer, set by prefix_tuning.num_virtual_tokens",
                _ => "bottleneck adapters are placed by bottleneck_adapter.placement and sized by bottleneck_adapter.reduction_factor/bottleneck_size",
            };
            foreach (var key in new[] { "lora.r", "lora.alpha", "lora.dropout", "lora.target_modules", "lora.use_rslora" })
            {
                if (Locations.TryGetValue(key, out var at) && Values.TryGetValue(key, out var value) && !IsDefault(key, value))
                    _diagnostics.Add(RecipeDiagnostic.Warning(at, RecipeErrorCodes.IgnoredValue,
                        $"{key} has no effect for method {method} ({why})", $"Remove {key}, or use method: lora."));
            }
        }

        if (method != "ia3")
        {
            foreach (var key in new[] { "ia3.target_modules", "ia3.feedforward_modules" })
            {
                if (Locations.TryGetValue(key, out var at) && Values.GetValueOrDefault(key) is not null)
                    _diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.Conflict,
                        $"{key} is an IA3 setting; method is {method}", $"Remove {key}, or use method: ia3."));
            }
        }

        foreach (var (section, what) in new[] { ("bottleneck_adapter", "a bottleneck adapter"), ("prompt_tuning", "a prompt tuning"), ("p_tuning", "a p-tuning"), ("prefix_tuning", "a prefix tuning") })
        {
            if (method == section) continue;
            foreach (var key in RecipeSchema.Entries.Select(e => e.Path).Where(p => p.StartsWith(section + ".", StringComparison.Ordinal)))
            {
                // The resolved recipe lists every key with its default: only a changed value is a conflict.
                if (Locations.TryGetValue(key, out var at) && !IsDefault(key, Values.GetValueOrDefault(key)))
                    _diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.Conflict,
                        $"{key} is {what} setting; method is {method}", $"Remove {key}, or use method: {section}."));
            }
        }
        CheckPromptSettings(method);

        if (method == "bottleneck_adapter" && Locations.TryGetValue("bottleneck_adapter.reduction_factor", out var factorAt) && Values.GetValueOrDefault("bottleneck_adapter.bottleneck_size") is not null
            && !IsDefault("bottleneck_adapter.reduction_factor", Values.GetValueOrDefault("bottleneck_adapter.reduction_factor")))
        {
            _diagnostics.Add(RecipeDiagnostic.Warning(factorAt, RecipeErrorCodes.IgnoredValue,
                "bottleneck_adapter.reduction_factor has no effect: bottleneck_adapter.bottleneck_size sets the width", "Remove one of the two."));
        }

        // feedforward_modules must be targets (PEFT's rule). Checked here when both are plain name lists; against the
        // matched module paths when the targets are a family default, a regex or all-linear (at injection).
        if (Values.GetValueOrDefault("ia3.feedforward_modules") is string[] feedforward
            && Values.GetValueOrDefault("ia3.target_modules") is string[] targets
            && !targets.Contains(LoraOptions.AllLinear) && targets.All(t => !t.StartsWith("re:", StringComparison.Ordinal)))
        {
            foreach (var module in feedforward.Where(f => !f.StartsWith("re:", StringComparison.Ordinal) && !targets.Contains(f)))
            {
                _diagnostics.Add(RecipeDiagnostic.Error(Locations["ia3.feedforward_modules"], RecipeErrorCodes.Conflict,
                    $"ia3.feedforward_modules: {module} is not in ia3.target_modules [{string.Join(", ", targets)}]",
                    $"Feed-forward modules are a subset of the targets: add {module} to ia3.target_modules, or remove it here."));
            }
        }
    }

    /// <summary>
    /// <c>freeze.*</c> under another method is refused (a changed value only: the resolved recipe lists every key); under
    /// <c>method: freeze</c> the block must train something, and the schedule's cap cannot be below the starting blocks.
    /// Whether <c>trainable_layers</c> fits the model is checked when the model is known (plan/run), naming its block count.
    /// </summary>
    private void CheckFreeze()
    {
        var method = Values.GetValueOrDefault("method") as string ?? "lora";
        if (method != "freeze")
        {
            foreach (var key in RecipeSchema.Entries.Where(e => e.Type != RecipeValueType.Section && e.Path.StartsWith("freeze.", StringComparison.Ordinal)).Select(e => e.Path))
            {
                if (Locations.TryGetValue(key, out var at) && !IsDefault(key, Values.GetValueOrDefault(key)))
                    _diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.Conflict,
                        $"{key} is a freeze setting; method is {method}", $"Remove {key}, or use method: freeze."));
            }
            return;
        }

        long layers = Values.GetValueOrDefault("freeze.trainable_layers") as long? ?? 2;
        bool head = Values.GetValueOrDefault("freeze.train_head") as bool? ?? true;
        bool extra = Values.GetValueOrDefault("freeze.extra_modules") is string[] { Length: > 0 };
        bool classification = (Values.GetValueOrDefault("task") as string) == "sequence-classification";
        if (layers == 0 && !head && !extra && !classification)
        {
            var at = Locations.GetValueOrDefault("freeze.trainable_layers", Locations.GetValueOrDefault("freeze.train_head", Locations.GetValueOrDefault("method")));
            _diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.OutOfRange,
                "freeze.trainable_layers is 0 and freeze.train_head is false: nothing would train (before the first unfreeze)",
                "Set freeze.trainable_layers to 1 or more, or freeze.train_head: true."));
        }

        if (Values.GetValueOrDefault("freeze.unfreeze_schedule.max_layers") is long max && max < layers
            && Locations.TryGetValue("freeze.unfreeze_schedule.max_layers", out var maxAt))
        {
            _diagnostics.Add(RecipeDiagnostic.Error(maxAt, RecipeErrorCodes.OutOfRange,
                $"freeze.unfreeze_schedule.max_layers ({max}) is below freeze.trainable_layers ({layers}): the schedule would never unfreeze a block",
                $"Set max_layers to {layers + 1} or more, or remove freeze.unfreeze_schedule."));
        }

        if (Values.GetValueOrDefault("freeze.unfreeze_schedule.every") is null)
        {
            foreach (var key in new[] { "freeze.unfreeze_schedule.unit", "freeze.unfreeze_schedule.max_layers" })
            {
                if (Locations.TryGetValue(key, out var at) && !IsDefault(key, Values.GetValueOrDefault(key)))
                    _diagnostics.Add(RecipeDiagnostic.Warning(at, RecipeErrorCodes.IgnoredValue,
                        $"{key} has no effect without freeze.unfreeze_schedule.every", "Add freeze.unfreeze_schedule.every, or remove the key."));
            }
        }
    }

    /// <summary>
    /// <c>evaluation.early_stopping</c> and <c>evaluation.keep: best</c> judge evaluations, so they need some (validation data
    /// and a schedule other than never), and a metric the task computes: accuracy/f1 for a classifier, perplexity or a
    /// generation metric listed in <c>evaluation.metrics</c> for a causal LM; loss for both.
    /// </summary>
    private void CheckEarlyStopping()
    {
        bool stops = Values.GetValueOrDefault("evaluation.early_stopping.patience") is long;
        bool best = Values.GetValueOrDefault("evaluation.keep") is "best";
        if (!stops && !best) return;
        string what = stops ? "evaluation.early_stopping" : "evaluation.keep: best";
        var at = stops ? Locations["evaluation.early_stopping.patience"] : Locations["evaluation.keep"];
        if (Values.GetValueOrDefault("evaluation.every") is "never")
            _diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.Conflict,
                $"{what} needs evaluations, but evaluation.every is never", "Set evaluation.every to epoch or a number of steps."));
        bool noValidation = Values.GetValueOrDefault("data.validation") is not string
            && Values.GetValueOrDefault("data.validation_split") is double split && split == 0;
        if (noValidation)
            _diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.Conflict,
                $"{what} needs validation data, but data.validation_split is 0 and data.validation is not set",
                "Set data.validation to a file, or data.validation_split above 0 (e.g. 0.1)."));

        if (Values.GetValueOrDefault("evaluation.early_stopping.metric") is not string metric) return;
        bool classification = Values.GetValueOrDefault("task") is "sequence-classification";
        var metrics = Values.GetValueOrDefault("evaluation.metrics") as IReadOnlyList<string> ?? (string[])RecipeSchema.Get("evaluation.metrics").Default!;
        string? problem = metric switch
        {
            "accuracy" or "f1" when !classification => $"{metric} is computed for task sequence-classification only",
            "perplexity" when classification => "perplexity is computed for task causal-lm only",
            "exact_match" or "bleu" or "rouge_l" when classification => $"{metric} is computed for task causal-lm only",
            "exact_match" or "bleu" or "rouge_l" when !metrics.Contains(metric) => $"{metric} is not listed in evaluation.metrics, so no evaluation computes it",
            _ => null,
        };
        if (problem is not null)
            _diagnostics.Add(RecipeDiagnostic.Error(Locations["evaluation.early_stopping.metric"], RecipeErrorCodes.Conflict,
                $"evaluation.early_stopping.metric: {problem}",
                classification ? "Use loss, accuracy or f1." : $"Use loss or perplexity{(metric is "exact_match" or "bleu" or "rouge_l" ? $", or add {metric} to evaluation.metrics" : "")}."));
    }

    private static bool IsDefault(string key, object? value) => RecipeSchema.Get(key).Default switch
    {
        string[] list => value is string[] given && given.SequenceEqual(list),
        double d => value is double given && given == d,
        var other => Equals(other, value),
    };
}
