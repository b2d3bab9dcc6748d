namespace LoraRecipes.Recipes.Tests.Plan;

public sealed class PlanWriterTests : IDisposable
{
    private static readonly PlanOptions Options = new() { ToolVersion = "test-1" };

    private readonly TempRecipeDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private TrainingPlan Plan(string recipe, params string[] overrides) =>
        RecipeLoader.LoadPlan(_dir.WriteRecipeWithData(recipe), overrides, Options).Plan
        ?? throw new InvalidOperationException(string.Join("\n", RecipeLoader.LoadPlan(Path.Combine(_dir.Root, "recipe.yaml"), overrides, Options).Diagnostics));

    private Recipe LoadBack(TrainingPlan plan)
    {
        var result = RecipeLoader.Load(_dir.Write("recipe.resolved.yaml", PlanWriter.ToYaml(plan)));
        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics) + "\n" + PlanWriter.ToYaml(plan));
        return result.Recipe!;
    }

    [Fact]
    public void Resolved_yaml_of_the_defaults_round_trips()
    {
        var plan = Plan(TempRecipeDir.MinimalRecipe);

        Assert.Equal(plan.Recipe, LoadBack(plan));
    }

    [Fact]
    public void Resolved_yaml_round_trips_awkward_values()
    {
        var plan = Plan("""
            name: "123"
            base_model: builtin:tiny-llama
            task: sequence-classification
            data:
              train: data/train.jsonl
              validation: data/train.jsonl
              validation_split: 0
              format: classification
            lora:
              alpha: 1e-3
              target_modules: all-linear
              modules_to_save: ["null", "true", "8"]
            training:
              learning_rate: 1.5e-7
              max_grad_norm: null
              threads: 3
            evaluation:
              every: 10
              metrics: []
              samples: ["请介绍一下什么是高血压", "line one\nline two", "key: value # not a comment", "'quoted'", ""]
            """, "training.seed=0");

        var back = LoadBack(plan);

        Assert.Equal(plan.Recipe, back);
        Assert.Equal("123", back.Name);
        Assert.Equal(["null", "true", "8"], back.Lora.ModulesToSave);
        Assert.Equal(5, back.Evaluation.Samples.Count);
    }

    [Fact]
    public void Resolved_yaml_lists_every_key_with_defaults()
    {
        var plan = Plan(TempRecipeDir.MinimalRecipe, "lora.r=8");

        var yaml = PlanWriter.ToYaml(plan);
        var body = string.Join("\n", yaml.Split('\n').Where(l => !l.StartsWith('#')));

        Assert.Contains("# --set lora.r=8", yaml);
        Assert.Contains($"# Fingerprint: {plan.Fingerprint}", yaml);
        Assert.Equal("""
            name: demo
            base_model: builtin:tiny-llama
            task: causal-lm
            method: lora
            data:
              train: data/train.jsonl
              validation: null
              validation_split: 0.1
              format: alpaca
              prompt_template: alpaca
              max_length: 512
              train_on_inputs: false
              packing: false
            lora:
              r: 8
              alpha: 32
              dropout: 0.01
              target_modules: [q_proj, v_proj]
              init: default
              use_dora: false
              use_rslora: false
              bias: none
              modules_to_save: []
            ia3:
              target_modules: null
              feedforward_modules: null
            bottleneck_adapter:
              reduction_factor: 16
              bottleneck_size: null
              non_linearity: relu
              placement: ffn
              init: default
              dropout: 0
            freeze:
              trainable_layers: 2
              modules: all
              extra_modules: []
              train_head: true
              unfreeze_schedule:
                every: null
                unit: steps
                max_layers: null
            prompt_tuning:
              num_virtual_tokens: 20
              init: random
              init_text: null
            p_tuning:
              num_virtual_tokens: 20
              encoder: mlp
              encoder_hidden_size: null
              encoder_num_layers: 2
              encoder_dropout: 0
            prefix_tuning:
              num_virtual_tokens: 20
              prefix_projection: false
              encoder_hidden_size: null
            training:
              epochs: 3
              max_steps: null
              batch_size: 8
              gradient_accumulation: 1
              learning_rate: 0.0002
              weight_decay: 0.01
              scheduler: linear
              warmup_ratio: 0.03
              max_grad_norm: 1
              seed: 42
              device: auto
              precision: auto
              checkpoint_every: 200
              threads: null
              on_nan: stop
            evaluation:
              every: epoch
              metrics: [loss, perplexity]
              samples: []
              keep: last
              early_stopping:
                metric: loss
                patience: null
                min_delta: 0
            output:
              dir: artifacts/demo

            """, body.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Resolved_yaml_has_no_extends_and_keeps_the_merged_values()
    {
        _dir.Write("base.yaml", "base_model: builtin:tiny-llama\nlora: {r: 16}\n");
        var plan = Plan("extends: base.yaml\nname: child\ndata: {train: data/train.jsonl}\n");

        var yaml = PlanWriter.ToYaml(plan);

        Assert.DoesNotContain("\nextends:", yaml);
        Assert.Equal(16, LoadBack(plan).Lora.R);
    }
}
