using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Schema;
using LoraRecipes.Training;

namespace LoraRecipes.Tests.Training;

/// <summary>
/// Walks <see cref="RecipeSchema.Entries"/>: no key is accepted and then ignored. For every key, (1) a recipe that sets it
/// to another value loads to a different <see cref="Recipe"/> (or, for keys the planner consumes, a different plan
/// property), and (2) the property it fills is read by the trainer assembly (a getter reference in LoraRecipes.dll's
/// metadata: the compiler emits one only where code reads the property). A new schema key fails here until it has both.
/// </summary>
public sealed class SchemaWalkTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lora-walk-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Minimal = "name: walk\nbase_model: builtin:tiny-llama\ndata:\n  train: train.jsonl\n";

    /// <summary>A YAML value other than the default, per key; null where the schema allows a single value.</summary>
    private static readonly Dictionary<string, string?> Changed = new(StringComparer.Ordinal)
    {
        ["name"] = "other", ["base_model"] = "builtin:tiny-distilbert", ["task"] = "sequence-classification", ["extends"] = "base.yaml",
        ["method"] = "ia3", ["lora.use_dora"] = "true", ["ia3.target_modules"] = "[k_proj, down_proj]", ["ia3.feedforward_modules"] = "[down_proj]",
        ["bottleneck_adapter.reduction_factor"] = "8", ["bottleneck_adapter.bottleneck_size"] = "4", ["bottleneck_adapter.non_linearity"] = "gelu",
        ["bottleneck_adapter.placement"] = "both", ["bottleneck_adapter.init"] = "bert", ["bottleneck_adapter.dropout"] = "0.1",
        ["prompt_tuning.num_virtual_tokens"] = "8", ["prompt_tuning.init"] = "text", ["prompt_tuning.init_text"] = "classify this",
        ["p_tuning.num_virtual_tokens"] = "8", ["p_tuning.encoder"] = "lstm", ["p_tuning.encoder_hidden_size"] = "16",
        ["p_tuning.encoder_num_layers"] = "1", ["p_tuning.encoder_dropout"] = "0.1",
        ["prefix_tuning.num_virtual_tokens"] = "8", ["prefix_tuning.prefix_projection"] = "true", ["prefix_tuning.encoder_hidden_size"] = "16",
        ["data.train"] = "other.jsonl", ["data.validation"] = "other.jsonl", ["data.validation_split"] = "0.2", ["data.format"] = "text",
        ["data.prompt_template"] = "chatml", ["data.max_length"] = "64", ["data.train_on_inputs"] = "true", ["data.packing"] = "true",
        ["lora.r"] = "8", ["lora.alpha"] = "16", ["lora.dropout"] = "0.1", ["lora.target_modules"] = "[q_proj]", ["lora.init"] = "gaussian",
        ["lora.use_rslora"] = "true", ["lora.bias"] = null, ["lora.modules_to_save"] = "[classifier]",
        ["training.epochs"] = "1", ["training.max_steps"] = "5", ["training.batch_size"] = "2", ["training.gradient_accumulation"] = "2",
        ["training.learning_rate"] = "1e-3", ["training.weight_decay"] = "0", ["training.scheduler"] = "cosine", ["training.warmup_ratio"] = "0.1",
        ["training.max_grad_norm"] = "0.5", ["training.seed"] = "7", ["training.device"] = "cpu", ["training.precision"] = "fp32",
        ["training.checkpoint_every"] = "10", ["training.threads"] = "1", ["training.on_nan"] = "skip_step",
        ["evaluation.every"] = "5", ["evaluation.metrics"] = "[loss, bleu]", ["evaluation.samples"] = "[hello]", ["output.dir"] = "elsewhere",
        ["evaluation.keep"] = "best", ["evaluation.early_stopping.metric"] = "perplexity", ["evaluation.early_stopping.patience"] = "2",
        ["evaluation.early_stopping.min_delta"] = "0.1",
        ["freeze.trainable_layers"] = "1", ["freeze.modules"] = "[mlp]", ["freeze.extra_modules"] = "[norm]", ["freeze.train_head"] = "false",
        ["freeze.unfreeze_schedule.every"] = "5", ["freeze.unfreeze_schedule.unit"] = "epochs", ["freeze.unfreeze_schedule.max_layers"] = "3",
    };

    /// <summary>Keys the planner turns into plan properties (paths, the model reference) instead of the trainer reading the recipe.</summary>
    private static readonly Dictionary<string, Func<TrainingPlan, object?>> Planned = new(StringComparer.Ordinal)
    {
        ["base_model"] = p => p.BaseModel,
        ["data.train"] = p => p.TrainPath,
        ["data.validation"] = p => p.ValidationPath,
        ["output.dir"] = p => p.OutputDirectory,
    };

    /// <summary>Properties whose name is not the key's PascalCase, and keys with no property of their own.</summary>
    private static readonly Dictionary<string, string?> PropertyOf = new(StringComparer.Ordinal)
    {
        ["evaluation.every"] = "EvaluationOptions.Schedule",
        ["evaluation.early_stopping.metric"] = "EarlyStoppingOptions.Metric",
        ["evaluation.early_stopping.patience"] = "EarlyStoppingOptions.Patience",
        ["evaluation.early_stopping.min_delta"] = "EarlyStoppingOptions.MinDelta",
        ["freeze.unfreeze_schedule.every"] = "FreezeOptions.UnfreezeEvery",
        ["freeze.unfreeze_schedule.unit"] = "FreezeOptions.UnfreezeUnit",
        ["extends"] = null,   // merged by the loader: the keys it brings are walked themselves
    };

    public static TheoryData<string> Keys => new(RecipeSchema.Entries.Where(e => e.Type != RecipeValueType.Section).Select(e => e.Path));

    [Theory]
    [MemberData(nameof(Keys))]
    public void EveryKeyReachesTheTrainer(string key)
    {
        Assert.True(Changed.ContainsKey(key), $"{key}: add a changed value to this test's table");
        string? property = PropertyOf.TryGetValue(key, out var mapped) ? mapped : PropertyName(key);
        if (!Planned.ContainsKey(key) && property is not null)
            Assert.True(TrainerReads.Contains(property), $"{key}: {property} is never read by {typeof(LoraTrainer).Assembly.GetName().Name}");

        if (Changed[key] is not { } value) return;   // one allowed value: nothing to change
        var baseline = Plan(Minimal);
        var changed = Plan(With(key, value));
        if (Planned.TryGetValue(key, out var read))
            Assert.NotEqual(read(baseline), read(changed));
        else
            Assert.NotEqual(baseline.Recipe, changed.Recipe);
        if (key != "output.dir")   // where the artifacts go is not what is trained: moving them does not retrain
            Assert.NotEqual(baseline.Fingerprint, changed.Fingerprint);
    }

    private static string PropertyName(string key)
    {
        string[] parts = key.Split('.');
        string type = parts.Length == 1 ? nameof(Recipe) : parts[0] switch
        {
            "data" => nameof(DataOptions), "lora" => nameof(LoraOptions), "training" => nameof(TrainingOptions),
            "evaluation" => nameof(EvaluationOptions), "output" => nameof(OutputOptions), "ia3" => nameof(Ia3Options),
            "bottleneck_adapter" => nameof(BottleneckAdapterOptions), "freeze" => nameof(FreezeOptions), "prompt_tuning" => nameof(PromptTuningOptions), "p_tuning" => nameof(PTuningOptions),
            "prefix_tuning" => nameof(PrefixTuningOptions),
            var s => s,
        };
        string leaf = string.Concat(parts[^1].Split('_').Select(w => char.ToUpperInvariant(w[0]) + w[1..]));
        return type + "." + leaf;
    }

    /// <summary>"Type.Property" for every property getter LoraRecipes.dll references in another assembly.</summary>
    private static readonly HashSet<string> TrainerReads = ReadGetters(typeof(LoraTrainer).Assembly.Location);

    private static HashSet<string> ReadGetters(string assembly)
    {
        using var stream = File.OpenRead(assembly);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var reads = new HashSet<string>(StringComparer.Ordinal);
        foreach (var handle in md.MemberReferences)
        {
            var member = md.GetMemberReference(handle);
            string name = md.GetString(member.Name);
            if (name.StartsWith("get_", StringComparison.Ordinal) && member.Parent.Kind == HandleKind.TypeReference)
                reads.Add(md.GetString(md.GetTypeReference((TypeReferenceHandle)member.Parent).Name) + "." + name[4..]);
        }
        return reads;
    }

    /// <summary>The minimal recipe with <paramref name="key"/> set (classification keys bring task and format along).</summary>
    private string With(string key, string value)
    {
        var top = new Dictionary<string, string>(StringComparer.Ordinal) { ["name"] = "walk", ["base_model"] = "builtin:tiny-llama" };
        var sections = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal) { ["data"] = new() { ["train"] = "train.jsonl" } };
        void Set(string k, string v)
        {
            string[] parts = k.Split('.');
            if (parts.Length == 1) { top[k] = v; return; }
            if (!sections.TryGetValue(parts[0], out var section)) sections[parts[0]] = section = new(StringComparer.Ordinal);
            // A subsection key (evaluation.early_stopping.patience) is written as its own indented map.
            section[parts[1]] = parts.Length == 3 ? $"\n    {parts[2]}: {v}" : v;
        }
        if (key == "extends")
            File.WriteAllText(Path.Combine(_dir, "base.yaml"), "name: walk\nbase_model: builtin:tiny-llama\ndata:\n  train: train.jsonl\nlora:\n  r: 16\n");
        if (key is "task" or "lora.modules_to_save")
        {
            Set("task", "sequence-classification");
            Set("data.format", "classification");
        }
        if (key.StartsWith("ia3.", StringComparison.Ordinal)) Set("method", "ia3");   // IA3 settings need method: ia3
        if (key.StartsWith("bottleneck_adapter.", StringComparison.Ordinal)) Set("method", "bottleneck_adapter");
        if (key.StartsWith("freeze.", StringComparison.Ordinal)) Set("method", "freeze");
        if (key.StartsWith("prompt_tuning.", StringComparison.Ordinal)) Set("method", "prompt_tuning");
        if (key.StartsWith("p_tuning.", StringComparison.Ordinal)) Set("method", "p_tuning");
        if (key.StartsWith("prefix_tuning.", StringComparison.Ordinal)) Set("method", "prefix_tuning");
        if (key == "prefix_tuning.encoder_hidden_size") Set("prefix_tuning.prefix_projection", "true");   // the width needs the projection
        if (key == "prompt_tuning.init") Set("prompt_tuning.init_text", "classify this");   // init: text needs its text
        if (key == "prompt_tuning.init_text") Set("prompt_tuning.init", "text");
        Set(key, value);
        return string.Concat(top.Select(p => $"{p.Key}: {p.Value}\n"))
            + string.Concat(sections.Select(s => $"{s.Key}:\n" + string.Concat(s.Value.Select(p => $"  {p.Key}: {p.Value}\n"))));
    }

    private TrainingPlan Plan(string yaml)
    {
        foreach (string data in new[] { "train.jsonl", "other.jsonl" })
            if (!File.Exists(Path.Combine(_dir, data)))
                File.WriteAllText(Path.Combine(_dir, data), string.Concat(Enumerable.Range(0, 4).Select(i =>
                    $"{{\"instruction\": \"q{i}\", \"output\": \"a{i}\", \"text\": \"t{i}\", \"label\": \"{(i % 2 == 0 ? "yes" : "no")}\"}}\n")) + (data == "other.jsonl" ? "{\"instruction\": \"x\", \"output\": \"y\", \"text\": \"z\", \"label\": \"no\"}\n" : ""));
        string path = Path.Combine(_dir, $"r{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        var result = RecipeLoader.LoadPlan(path, [], new PlanOptions { ToolVersion = "test", BuiltinModelVersion = "test" });
        Assert.True(result.Plan is not null, yaml + "\n" + string.Join("\n", result.Diagnostics));
        return result.Plan!;
    }
}
