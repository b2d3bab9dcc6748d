namespace LoraRecipes.Recipes.Schema;

/// <summary>Builds a <see cref="Recipe"/> from validated values, taking every missing value from the schema default.</summary>
internal static class RecipeFactory
{
    public static Recipe Create(IReadOnlyDictionary<string, object?> values, RecipeOrigin origin)
    {
        var v = new Reader(values);
        var name = v.String("name");
        var every = v.Get("evaluation.every");
        // lora.init: one of the LoraInit names, or pissa_niter_N (PiSSA by fast SVD; the schema's pattern checked N).
        string init = v.String("lora.init");
        int? pissaNiter = init.StartsWith(LoraOptions.PissaNiterPrefix, StringComparison.Ordinal)
            ? int.Parse(init.AsSpan(LoraOptions.PissaNiterPrefix.Length), System.Globalization.CultureInfo.InvariantCulture) : null;
        return new Recipe
        {
            Name = name,
            BaseModel = v.String("base_model"),
            Task = v.Choice<TaskType>("task"),
            Method = v.Choice<AdapterMethod>("method"),
            Ia3 = new Ia3Options
            {
                TargetModules = v.NullableList("ia3.target_modules"),
                FeedforwardModules = v.NullableList("ia3.feedforward_modules"),
            },
            BottleneckAdapter = new BottleneckAdapterOptions
            {
                ReductionFactor = v.Number("bottleneck_adapter.reduction_factor"),
                BottleneckSize = v.NullableInteger("bottleneck_adapter.bottleneck_size"),
                NonLinearity = v.Choice<BottleneckActivation>("bottleneck_adapter.non_linearity"),
                Placement = v.Choice<BottleneckPlacement>("bottleneck_adapter.placement"),
                Init = v.Choice<BottleneckInit>("bottleneck_adapter.init"),
                Dropout = v.Number("bottleneck_adapter.dropout"),
            },
            Freeze = new FreezeOptions
            {
                TrainableLayers = v.Integer("freeze.trainable_layers"),
                Modules = v.List("freeze.modules"),
                ExtraModules = v.List("freeze.extra_modules"),
                TrainHead = v.Boolean("freeze.train_head"),
                UnfreezeEvery = v.NullableInteger("freeze.unfreeze_schedule.every"),
                UnfreezeUnit = v.Choice<UnfreezeUnit>("freeze.unfreeze_schedule.unit"),
                MaxLayers = v.NullableInteger("freeze.unfreeze_schedule.max_layers"),
            },
            PromptTuning = new PromptTuningOptions
            {
                NumVirtualTokens = v.Integer("prompt_tuning.num_virtual_tokens"),
                Init = v.Choice<PromptTuningInit>("prompt_tuning.init"),
                InitText = v.Get("prompt_tuning.init_text") as string,
            },
            PTuning = new PTuningOptions
            {
                NumVirtualTokens = v.Integer("p_tuning.num_virtual_tokens"),
                Encoder = v.Choice<PromptEncoderType>("p_tuning.encoder"),
                EncoderHiddenSize = v.NullableInteger("p_tuning.encoder_hidden_size"),
                EncoderNumLayers = v.Integer("p_tuning.encoder_num_layers"),
                EncoderDropout = v.Number("p_tuning.encoder_dropout"),
            },
            PrefixTuning = new PrefixTuningOptions
            {
                NumVirtualTokens = v.Integer("prefix_tuning.num_virtual_tokens"),
                PrefixProjection = v.Boolean("prefix_tuning.prefix_projection"),
                EncoderHiddenSize = v.NullableInteger("prefix_tuning.encoder_hidden_size"),
            },
            Data = new DataOptions
            {
                Train = v.String("data.train"),
                Validation = v.Get("data.validation") as string,
                ValidationSplit = v.Number("data.validation_split"),
                Format = v.Choice<DataFormat>("data.format"),
                PromptTemplate = v.Choice<PromptTemplate>("data.prompt_template"),
                MaxLength = v.Integer("data.max_length"),
                TrainOnInputs = v.Boolean("data.train_on_inputs"),
                Packing = v.Boolean("data.packing"),
            },
            Lora = new LoraOptions
            {
                R = v.Integer("lora.r"),
                Alpha = v.Number("lora.alpha"),
                Dropout = v.Number("lora.dropout"),
                TargetModules = v.List("lora.target_modules"),
                Init = pissaNiter is null ? v.Choice<LoraInit>("lora.init") : LoraInit.Pissa,
                PissaNiter = pissaNiter,
                UseRslora = v.Boolean("lora.use_rslora"),
                UseDora = v.Boolean("lora.use_dora"),
                Bias = v.Choice<LoraBias>("lora.bias"),
                ModulesToSave = v.List("lora.modules_to_save"),
            },
            Training = new TrainingOptions
            {
                Epochs = v.Integer("training.epochs"),
                MaxSteps = v.NullableInteger("training.max_steps"),
                BatchSize = v.Integer("training.batch_size"),
                GradientAccumulation = v.Integer("training.gradient_accumulation"),
                LearningRate = v.Number("training.learning_rate"),
                WeightDecay = v.Number("training.weight_decay"),
                Scheduler = v.Choice<LrScheduler>("training.scheduler"),
                WarmupRatio = v.Number("training.warmup_ratio"),
                MaxGradNorm = v.Get("training.max_grad_norm") is { } norm ? Convert.ToDouble(norm) : null,
                Seed = v.Integer("training.seed"),
                Device = v.String("training.device"),
                Precision = v.Choice<Precision>("training.precision"),
                CheckpointEvery = v.Integer("training.checkpoint_every"),
                Threads = v.NullableInteger("training.threads"),
                OnNan = v.Choice<NanPolicy>("training.on_nan"),
            },
            Evaluation = new EvaluationOptions
            {
                Schedule = every is long ? EvaluationSchedule.Steps : YamlNames.Parse<EvaluationSchedule>((string)every!),
                EverySteps = every is long steps ? (int)steps : null,
                Metrics = new ValueList<EvaluationMetric>(v.List("evaluation.metrics").Select(YamlNames.Parse<EvaluationMetric>)),
                Samples = v.List("evaluation.samples"),
                Keep = v.Choice<KeepWeights>("evaluation.keep"),
                EarlyStopping = new EarlyStoppingOptions
                {
                    Metric = v.Choice<EvaluationMetric>("evaluation.early_stopping.metric"),
                    Patience = v.NullableInteger("evaluation.early_stopping.patience"),
                    MinDelta = v.Number("evaluation.early_stopping.min_delta"),
                },
            },
            Output = new OutputOptions { Dir = v.String("output.dir").Replace("{name}", name) },
            Origin = origin,
        };
    }

    private sealed class Reader(IReadOnlyDictionary<string, object?> values)
    {
        public object? Get(string path) =>
            values.TryGetValue(path, out var value) ? value : RecipeSchema.Get(path).Default;

        public string String(string path) => (string)Get(path)!;

        public int Integer(string path) => checked((int)(long)Get(path)!);

        public int? NullableInteger(string path) => Get(path) is long value ? checked((int)value) : null;

        public double Number(string path) => Convert.ToDouble(Get(path), System.Globalization.CultureInfo.InvariantCulture);

        public bool Boolean(string path) => (bool)Get(path)!;

        public T Choice<T>(string path) where T : struct, Enum => YamlNames.Parse<T>(String(path));

        public ValueList<string> List(string path) => new((string[])Get(path)!);

        public ValueList<string>? NullableList(string path) => Get(path) is string[] items ? new(items) : null;
    }
}
