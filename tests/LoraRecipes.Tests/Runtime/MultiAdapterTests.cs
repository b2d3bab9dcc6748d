using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.Evaluation;
using LoraRecipes.Models;
using LoraRecipes.Runtime;
using LoraRecipes.Training;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Runtime;

/// <summary>Adapters trained once on builtin:tiny-llama: LoRA (alpha), IA3 (beta), DoRA (gamma), and a prefix-tuning one.</summary>
public sealed class ThreeAdapters : IDisposable
{
    private readonly TrainingFixture _fixture = new(records: 12);

    public ThreeAdapters()
    {
        Alpha = Train("alpha");
        Beta = Train("beta", "method=ia3");
        Gamma = Train("gamma", "lora.use_dora=true");
        Prefix = Train("prefix", "method=prefix_tuning", "prefix_tuning.num_virtual_tokens=3");
    }

    public string Alpha { get; }
    public string Beta { get; }
    public string Gamma { get; }
    public string Prefix { get; }
    public string Directory => _fixture.Directory;

    private string Train(string name, params string[] overrides)
    {
        var plan = _fixture.Plan(_fixture.Recipe(name, maxSteps: 2), overrides);
        new LoraTrainer(plan).Run();
        return plan.OutputDirectory;
    }

    public void Dispose() => _fixture.Dispose();
}

public sealed class MultiAdapterTests(ThreeAdapters adapters) : IClassFixture<ThreeAdapters>
{
    private const string Prompt = "Explain the condition: what is asthma";

    private static float[] Alone(string folder)
    {
        using var single = LoraModel.Load(folder);
        return single.LastLogits(Prompt);
    }

    private static float[] BaseLogits()
    {
        // Independent of LoraModel: the bare base model's forward.
        using var model = ModelLoader.Load(ModelLoader.ResolveFolder("builtin:tiny-llama"));
        using var guard = inference_mode();
        var ids = model.Tokenizer.Encode(Prompt, addSpecialTokens: true).Select(i => (long)i).ToArray();
        var logits = ((nn.Module<Tensor, Tensor>)model.Module).forward(tensor(ids, [1, ids.Length]));
        return logits[0, -1].data<float>().ToArray();
    }

    private static void Same(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= 1e-6, $"max |difference| {worst}");
    }

    private static bool Differ(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max() > 1e-4;

    [Fact]
    public void Each_adapter_among_others_computes_what_it_computes_alone_LoRA_IA3_and_DoRA_mixed()
    {
        using var model = LoraModel.LoadMany([adapters.Alpha, adapters.Beta, adapters.Gamma]);
        Assert.Equal(["alpha", "beta", "gamma"], model.Adapters);
        Assert.Equal("alpha", model.ActiveAdapter);

        var alone = new[] { adapters.Alpha, adapters.Beta, adapters.Gamma }.Select(Alone).ToArray();
        Assert.True(Differ(alone[0], alone[1]) && Differ(alone[1], alone[2]) && Differ(alone[0], alone[2]), "the three adapters must compute different functions for this test to mean anything");
        Same(alone[0], model.LastLogits(Prompt));
        Same(alone[1], model.LastLogits(Prompt, "beta"));
        Same(alone[2], model.LastLogits(Prompt, "gamma"));
        var options = new GenerationOptions { MaxNewTokens = 8 };
        using (var single = LoraModel.Load(adapters.Beta)) Assert.Equal(single.Generate(Prompt, options), model.Generate(Prompt, options, adapter: "beta"));
    }

    [Fact]
    public void A_prefix_tuning_adapter_beside_LoRA_is_on_only_while_selected()
    {
        using var model = LoraModel.LoadMany([adapters.Prefix, adapters.Alpha]);
        var (prefix, alpha, bare) = (Alone(adapters.Prefix), Alone(adapters.Alpha), BaseLogits());
        Assert.True(Differ(bare, prefix) && Differ(prefix, alpha));
        Same(prefix, model.LastLogits(Prompt));
        Same(alpha, model.LastLogits(Prompt, "alpha"));
        Same(bare, model.LastLogits(Prompt, LoraModel.BaseOnly));
        Same(prefix, model.LastLogits(Prompt, "prefix"));
        var options = new GenerationOptions { MaxNewTokens = 6 };
        using (var single = LoraModel.Load(adapters.Prefix)) Assert.Equal(single.Generate(Prompt, options), model.Generate(Prompt, options, adapter: "prefix"));
    }

    [Fact]
    public void Disabled_or_BaseOnly_is_the_base_model_and_switching_back_and_forth_is_exact()
    {
        using var model = LoraModel.Load(adapters.Alpha);
        Assert.Equal("beta", model.LoadAdapter(adapters.Beta));
        var (alpha, beta, bare) = (Alone(adapters.Alpha), Alone(adapters.Beta), BaseLogits());
        Assert.True(Differ(bare, alpha) && Differ(bare, beta));

        Same(bare, model.LastLogits(Prompt, LoraModel.BaseOnly));
        Same(alpha, model.LastLogits(Prompt));
        model.SetAdapter("beta");
        Same(beta, model.LastLogits(Prompt));
        Same(alpha, model.LastLogits(Prompt, "alpha"));
        model.DisableAdapters();
        Assert.Null(model.ActiveAdapter);
        Same(bare, model.LastLogits(Prompt));
        Same(beta, model.LastLogits(Prompt, "beta"));
        model.SetAdapter("alpha");
        Same(alpha, model.LastLogits(Prompt));
        Assert.Throws<ArgumentException>(() => model.SetAdapter("delta"));
    }

    [Fact]
    public void Parallel_callers_on_two_adapters_each_always_get_their_own_adapters_output()
    {
        using var model = LoraModel.LoadMany([adapters.Alpha, adapters.Beta]);
        var expected = new Dictionary<string, float[]> { ["alpha"] = Alone(adapters.Alpha), ["beta"] = Alone(adapters.Beta), [LoraModel.BaseOnly] = BaseLogits() };
        Assert.True(Differ(expected["alpha"], expected["beta"]));
        var names = new[] { "alpha", "beta", LoraModel.BaseOnly, "beta" };
        int mismatches = 0;
        Parallel.For(0, 48, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            string name = names[i % names.Length];
            // Another caller flips the default meanwhile; a call that names its adapter must not notice.
            if (i % 5 == 0) model.SetAdapter(i % 2 == 0 ? "alpha" : "beta");
            var actual = model.LastLogits(Prompt, name);
            if (expected[name].Zip(actual, (e, a) => Math.Abs(e - a)).Max() > 1e-6) Interlocked.Increment(ref mismatches);
        });
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void An_adapter_of_another_base_or_task_is_refused_with_its_folder_named()
    {
        using var model = LoraModel.Load(adapters.Alpha);
        string otherBase = Copy(adapters.Beta, "other-base", c => c["base_model_name_or_path"] = "builtin:tiny-distilbert");
        string otherTask = Copy(adapters.Beta, "other-task", c => c["task_type"] = "SEQ_CLS");

        var baseError = Assert.Throws<AdapterLoadException>(() => model.LoadAdapter(otherBase));
        Assert.Contains(otherBase, baseError.Message);
        Assert.Contains("builtin:tiny-distilbert", baseError.Message);
        var taskError = Assert.Throws<AdapterLoadException>(() => model.LoadAdapter(otherTask));
        Assert.Contains(otherTask, taskError.Message);
        Assert.Contains("SEQ_CLS", taskError.Message);
        Assert.Throws<AdapterLoadException>(() => model.LoadAdapter(adapters.Alpha));   // the name is taken
        // The refusals left the model as it was.
        Same(Alone(adapters.Alpha), model.LastLogits(Prompt));
        Assert.Equal(["alpha"], model.Adapters);
    }

    [Fact]
    public void Unloading_an_adapter_leaves_the_base_and_the_others_as_they_were_and_its_name_free()
    {
        using var model = LoraModel.LoadMany([adapters.Alpha, adapters.Beta, adapters.Gamma]);
        var (alpha, beta, gamma, bare) = (Alone(adapters.Alpha), Alone(adapters.Beta), Alone(adapters.Gamma), BaseLogits());
        model.SetAdapter("beta");
        Same(beta, model.LastLogits(Prompt));

        model.UnloadAdapter("beta");   // the default: the first remaining becomes the default
        Assert.Equal(["alpha", "gamma"], model.Adapters);
        Assert.Equal("alpha", model.ActiveAdapter);
        Same(alpha, model.LastLogits(Prompt));
        Same(gamma, model.LastLogits(Prompt, "gamma"));
        Same(bare, model.LastLogits(Prompt, LoraModel.BaseOnly));
        Assert.Throws<ArgumentException>(() => model.LastLogits(Prompt, "beta"));

        Assert.Equal("beta", model.LoadAdapter(adapters.Beta));   // the name is free again
        Same(beta, model.LastLogits(Prompt, "beta"));
        model.UnloadAdapter("alpha");
        model.UnloadAdapter("gamma");
        Same(beta, model.LastLogits(Prompt));
        Same(bare, model.LastLogits(Prompt, LoraModel.BaseOnly));
        Assert.Throws<InvalidOperationException>(() => model.UnloadAdapter("beta"));   // the last one
        Assert.Throws<ArgumentException>(() => model.UnloadAdapter("delta"));
    }

    [Fact]
    public async Task Unloading_while_other_threads_call_never_gives_a_caller_a_wrong_output()
    {
        using var model = LoraModel.LoadMany([adapters.Alpha, adapters.Beta, adapters.Gamma]);
        var alpha = Alone(adapters.Alpha);
        int mismatches = 0;
        var callers = Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < 12; i++)
                if (alpha.Zip(model.LastLogits(Prompt, "alpha"), (e, a) => Math.Abs(e - a)).Max() > 1e-6) Interlocked.Increment(ref mismatches);
        })).ToArray();
        model.UnloadAdapter("gamma");
        model.UnloadAdapter("beta");
        await Task.WhenAll(callers);
        Assert.Equal(0, mismatches);
        Assert.Equal(["alpha"], model.Adapters);
    }

    [Fact]
    public void A_merged_model_holds_one_adapter()
    {
        using var model = LoraModel.Load(adapters.Alpha, merge: true);
        Assert.Throws<InvalidOperationException>(() => model.LoadAdapter(adapters.Beta));
        Assert.Throws<InvalidOperationException>(() => model.DisableAdapters());
        Assert.Throws<InvalidOperationException>(() => model.UnloadAdapter("alpha"));
        Assert.Throws<InvalidOperationException>(() => model.Generate(Prompt, adapter: LoraModel.BaseOnly));
    }

    private string Copy(string folder, string name, Action<JsonObject> edit)
    {
        string target = Path.Combine(adapters.Directory, name);
        System.IO.Directory.CreateDirectory(target);
        foreach (string file in System.IO.Directory.GetFiles(folder)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        string config = Path.Combine(target, "adapter_config.json");
        var json = JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        edit(json);
        File.WriteAllText(config, json.ToJsonString());
        return target;
    }
}

public sealed class BuiltAdapterListTests(ThreeAdapters adapters) : IClassFixture<ThreeAdapters>
{
    [Fact]
    public void LoadAllBuilt_opens_every_adapter_the_build_listed_and_a_missing_list_says_to_build()
    {
        using var app = new TempApp();
        Assert.Throws<AdapterLoadException>(() => LoraModel.BuiltAdapters(app.Path));
        // What the build leaves in the output folder: lora/<name>/ per <LoraRecipe> and lora/adapters.txt.
        foreach (var (name, folder) in new[] { ("alpha", adapters.Alpha), ("beta", adapters.Beta) })
        {
            string target = System.IO.Path.Combine(app.Path, "lora", name);
            Directory.CreateDirectory(target);
            foreach (string file in Directory.GetFiles(folder)) File.Copy(file, System.IO.Path.Combine(target, System.IO.Path.GetFileName(file)));
        }
        File.WriteAllLines(System.IO.Path.Combine(app.Path, "lora", "adapters.txt"), ["alpha", "beta"]);

        Assert.Equal(["alpha", "beta"], LoraModel.BuiltAdapters(app.Path));
        using var model = LoraModel.LoadAllBuilt(appFolder: app.Path);
        Assert.Equal(["alpha", "beta"], model.Adapters);
        using var beta = LoraModel.Load(adapters.Beta);
        // Within 1e-6, as the tests above: two model instances may reduce in a different order under a loaded machine's threads.
        float[] expected = beta.LastLogits("what is asthma"), actual = model.LastLogits("what is asthma", "beta");
        Assert.Equal(expected.Length, actual.Length);
        Assert.True(expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max() <= 1e-6);
    }

    private sealed class TempApp : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("lora-app-").FullName;
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
