using LoraRecipes.Recipes.Schema;

namespace LoraRecipes.Recipes.Tests.Schema;

public sealed class RecipeSchemaTests : IDisposable
{
    private readonly TempRecipeDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Defaults_match_the_design_document()
    {
        var recipe = RecipeLoader.Load(_dir.Write("r.yaml", TempRecipeDir.MinimalRecipe)).Recipe!;

        // DESIGN.md "Recipe (schema v1)"; samples default to none (the design's sample is the medical recipe's own).
        Assert.Equal(TaskType.CausalLm, recipe.Task);
        Assert.Equal(new DataOptions
        {
            Train = "data/train.jsonl", Validation = null, ValidationSplit = 0.1, Format = DataFormat.Alpaca,
            PromptTemplate = PromptTemplate.Alpaca, MaxLength = 512, TrainOnInputs = false, Packing = false,
        }, recipe.Data);
        Assert.Equal(new LoraOptions
        {
            R = 4, Alpha = 32, Dropout = 0.01, TargetModules = new[] { "q_proj", "v_proj" }, Init = LoraInit.Default,
            UseRslora = false, Bias = LoraBias.None, ModulesToSave = Array.Empty<string>(),
        }, recipe.Lora);
        Assert.Equal(new TrainingOptions
        {
            Epochs = 3, MaxSteps = null, BatchSize = 8, GradientAccumulation = 1, LearningRate = 2e-4, WeightDecay = 0.01,
            Scheduler = LrScheduler.Linear, WarmupRatio = 0.03, MaxGradNorm = 1.0, Seed = 42, Device = "auto",
            Precision = Precision.Auto, CheckpointEvery = 200, Threads = null, OnNan = NanPolicy.Stop,
        }, recipe.Training);
        Assert.Equal(new EvaluationOptions
        {
            Schedule = EvaluationSchedule.Epoch, EverySteps = null,
            Metrics = new[] { EvaluationMetric.Loss, EvaluationMetric.Perplexity }, Samples = Array.Empty<string>(),
        }, recipe.Evaluation);
        Assert.Equal("artifacts/demo", recipe.Output.Dir);
    }

    [Fact]
    public void Every_value_of_the_full_design_example_is_read()
    {
        var path = _dir.Write("medical.yaml", """
            name: medical-qa
            base_model: builtin:tiny-llama      # HF folder | hub id (org/name[@rev]) | builtin:<name>
            task: causal-lm
            data:
              train: data/medical.json
              validation: null
              validation_split: 0.2
              format: messages
              prompt_template: chatml
              max_length: 256
              train_on_inputs: true
              packing: true
            lora:
              r: 8
              alpha: 16
              dropout: 0.05
              target_modules: all-linear
              init: gaussian
              use_rslora: true
            training:
              epochs: 2
              max_steps: 100
              batch_size: 4
              gradient_accumulation: 2
              learning_rate: 2e-4
              weight_decay: 0
              scheduler: cosine
              warmup_ratio: 0.1
              max_grad_norm: null
              seed: 7
              device: cuda:1
              precision: bf16
              checkpoint_every: 50
              threads: 2
              on_nan: skip_step
            evaluation:
              every: 25
              metrics: [loss]
              samples: ["请介绍一下什么是高血压"]
            output:
              dir: out/medical
            """);

        var result = RecipeLoader.Load(path);

        Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
        var r = result.Recipe!;
        Assert.Equal((0.2, DataFormat.Messages, PromptTemplate.ChatMl, 256, true, true),
            (r.Data.ValidationSplit, r.Data.Format, r.Data.PromptTemplate, r.Data.MaxLength, r.Data.TrainOnInputs, r.Data.Packing));
        Assert.True(r.Lora.TargetsAllLinear);
        Assert.Equal((8, 16.0, 0.05, LoraInit.Gaussian, true), (r.Lora.R, r.Lora.Alpha, r.Lora.Dropout, r.Lora.Init, r.Lora.UseRslora));
        Assert.Equal((2, (int?)100, 4, 2, 2e-4, 0.0, LrScheduler.Cosine, 0.1, (double?)null, 7),
            (r.Training.Epochs, r.Training.MaxSteps, r.Training.BatchSize, r.Training.GradientAccumulation, r.Training.LearningRate,
             r.Training.WeightDecay, r.Training.Scheduler, r.Training.WarmupRatio, r.Training.MaxGradNorm, r.Training.Seed));
        Assert.Equal(("cuda:1", Precision.Bf16, 50, (int?)2, NanPolicy.SkipStep),
            (r.Training.Device, r.Training.Precision, r.Training.CheckpointEvery, r.Training.Threads, r.Training.OnNan));
        Assert.Equal((EvaluationSchedule.Steps, (int?)25), (r.Evaluation.Schedule, r.Evaluation.EverySteps));
        Assert.Equal([EvaluationMetric.Loss], r.Evaluation.Metrics);
        Assert.Equal(["请介绍一下什么是高血压"], r.Evaluation.Samples);
        Assert.Equal("out/medical", r.Output.Dir);
    }

    [Theory]
    [InlineData("evaluation:\n  every: never", EvaluationSchedule.Never)]
    [InlineData("evaluation:\n  every: epoch", EvaluationSchedule.Epoch)]
    public void Evaluation_every_words(string yaml, EvaluationSchedule expected)
    {
        var recipe = RecipeLoader.Load(_dir.Write("r.yaml", TempRecipeDir.MinimalRecipe + "\n" + yaml)).Recipe!;

        Assert.Equal((expected, (int?)null), (recipe.Evaluation.Schedule, recipe.Evaluation.EverySteps));
    }

    [Theory]
    [InlineData("evaluation:\n  every: 0", RecipeErrorCodes.OutOfRange)]
    [InlineData("evaluation:\n  every: weekly", RecipeErrorCodes.InvalidChoice)]
    [InlineData("lora:\n  target_modules: [\"re:q_(proj\"]", RecipeErrorCodes.InvalidRegex)]
    [InlineData("lora:\n  target_modules: []", RecipeErrorCodes.OutOfRange)]
    [InlineData("lora:\n  target_modules: [all-linear, q_proj]", RecipeErrorCodes.Conflict)]
    [InlineData("lora:\n  target_modules: q_proj", RecipeErrorCodes.WrongType)]
    [InlineData("lora:\n  use_rslora: yes", RecipeErrorCodes.WrongType)]
    [InlineData("lora:\n  alpha: 0", RecipeErrorCodes.OutOfRange)]
    [InlineData("lora:\n  r: 99999999999", RecipeErrorCodes.OutOfRange)]
    [InlineData("training:\n  learning_rate: .nan", RecipeErrorCodes.WrongType)]
    [InlineData("training:\n  device: gpu", RecipeErrorCodes.InvalidFormat)]
    [InlineData("training:\n  threads: 0", RecipeErrorCodes.OutOfRange)]
    [InlineData("training:\n  max_grad_norm: 0", RecipeErrorCodes.OutOfRange)]
    [InlineData("training:\n  epochs: 1.5", RecipeErrorCodes.WrongType)]
    [InlineData("training:\n  epochs: null", RecipeErrorCodes.WrongType)]
    [InlineData("data:\n  validation_split: 1", RecipeErrorCodes.OutOfRange)]
    public void Invalid_values(string yaml, string code)
    {
        // The minimal recipe's data section is replaced where the snippet has one, so keep train.
        var text = TempRecipeDir.MinimalRecipe.Replace("data:\n  train: data/train.jsonl", "") + "\n" + yaml + (yaml.StartsWith("data:") ? "\n  train: t.jsonl" : "\ndata:\n  train: t.jsonl");
        var result = RecipeLoader.Load(_dir.Write("r.yaml", text));

        Assert.False(result.Succeeded);
        Assert.Equal(code, Assert.Single(result.Diagnostics).Code);
    }

    [Fact]
    public void Empty_targets_train_the_head_alone_for_a_classifier_only()
    {
        const string classifier = "name: demo\nbase_model: builtin:tiny-distilbert\ntask: sequence-classification\ndata:\n  train: t.jsonl\n  format: classification\nlora:\n  target_modules: []\n";
        var ok = RecipeLoader.Load(_dir.Write("head.yaml", classifier));
        Assert.True(ok.Succeeded, string.Join("\n", ok.Diagnostics));
        Assert.Empty(ok.Recipe!.Lora.TargetModules);

        // The same list on a causal LM would train nothing: an error at the list, naming the task that allows it.
        var bad = RecipeLoader.Load(_dir.Write("lm.yaml", TempRecipeDir.MinimalRecipe + "\nlora:\n  target_modules: []\n"));
        var d = Assert.Single(bad.Diagnostics);
        Assert.Equal((RecipeErrorCodes.OutOfRange, 6, 19), (d.Code, d.Line, d.Column));
        Assert.Contains("sequence-classification", d.Hint);
    }

    [Fact]
    public void Every_schema_key_is_documented_and_sections_precede_their_keys()
    {
        var seen = new HashSet<string> { "" };
        foreach (var entry in RecipeSchema.Entries)
        {
            Assert.False(string.IsNullOrWhiteSpace(entry.Doc), entry.Path);
            Assert.Contains(entry.Parent, seen);
            Assert.Matches("^[a-z_][a-z0-9_]*(\\.[a-z_]+){0,2}$", entry.Path);   // section.key or section.subsection.key
            seen.Add(entry.Path);
        }
    }

    [Fact]
    public void Choice_defaults_are_among_the_allowed_values()
    {
        foreach (var entry in RecipeSchema.Entries.Where(e => e.Type is RecipeValueType.Choice))
        {
            Assert.Contains((string)entry.Default!, entry.Allowed);
        }
    }
}
