using LoraRecipes.Runtime;
using LoraRecipes.Tests.Training;
using LoraRecipes.Training;

namespace LoraRecipes.Tests.Runtime;

/// <summary>Two SEQ_CLS adapters on builtin:tiny-distilbert, each with its own trained head (pre_classifier + classifier).</summary>
public sealed class TwoClassifiers : IDisposable
{
    private readonly ClassificationFixture _fixture = new(records: 16);

    public TwoClassifiers()
    {
        // Different targets and seeds: different encoders and different heads.
        Left = Train("left", "training.seed=1");
        Right = Train("right", "training.seed=2", "lora.target_modules=[q_lin, v_lin]");
    }

    public string Left { get; }
    public string Right { get; }

    private string Train(string name, params string[] overrides)
    {
        var plan = _fixture.Plan(_fixture.Recipe(name, epochs: 1), overrides);
        new LoraTrainer(plan).Run();
        return plan.OutputDirectory;
    }

    public void Dispose() => _fixture.Dispose();
}

/// <summary>Classifiers over one base switch per call, each with its own head, and compute what they compute alone.</summary>
public sealed class ClassificationMultiAdapterTests(TwoClassifiers adapters) : IClassFixture<TwoClassifiers>
{
    private static readonly string[] Texts = ["the film was wonderful and the music too", "a terrible day in town", "people and their story"];

    private static double[][] Probabilities(LoraModel model, string? adapter) =>
        Texts.Select(t => { var p = model.Classify(t, adapter); return model.Labels.Select(l => (double)p.Probabilities[l]).ToArray(); }).ToArray();

    private static double[][] Alone(string folder)
    {
        using var single = LoraModel.Load(folder);
        return Probabilities(single, null);
    }

    private static double MaxDifference(double[][] a, double[][] b) => a.Zip(b, (x, y) => x.Zip(y, (p, q) => Math.Abs(p - q)).Max()).Max();

    [Fact]
    public void Two_classifiers_switched_per_call_equal_each_loaded_alone_and_unloading_one_leaves_the_other()
    {
        var left = Alone(adapters.Left);
        var right = Alone(adapters.Right);
        Assert.True(MaxDifference(left, right) > 1e-4, "the two classifiers must differ for this test to mean anything");

        using var model = LoraModel.LoadMany([adapters.Left, adapters.Right]);
        // Interleaved, so every call switches encoder layers and head.
        for (int round = 0; round < 2; round++)
        {
            Assert.True(MaxDifference(left, Probabilities(model, "left")) <= 1e-6);
            Assert.True(MaxDifference(right, Probabilities(model, "right")) <= 1e-6);
        }
        var baseHead = Probabilities(model, LoraModel.BaseOnly);
        Assert.True(MaxDifference(baseHead, left) > 1e-4 && MaxDifference(baseHead, right) > 1e-4);

        _ = Probabilities(model, "left");   // left's head in place when it goes
        model.UnloadAdapter("left");
        Assert.Equal(["right"], model.Adapters);
        Assert.True(MaxDifference(right, Probabilities(model, null)) <= 1e-6);
        Assert.True(MaxDifference(baseHead, Probabilities(model, LoraModel.BaseOnly)) <= 1e-6);
    }

    [Fact]
    public void Unloading_the_selected_classifier_puts_the_base_head_back()
    {
        using var model = LoraModel.LoadMany([adapters.Left, adapters.Right]);
        var baseHead = Probabilities(model, LoraModel.BaseOnly);
        _ = Probabilities(model, "right");   // right's head is now in the model
        model.UnloadAdapter("right");
        Assert.True(MaxDifference(baseHead, Probabilities(model, LoraModel.BaseOnly)) <= 1e-6);
        Assert.True(MaxDifference(Alone(adapters.Left), Probabilities(model, "left")) <= 1e-6);
    }
}
