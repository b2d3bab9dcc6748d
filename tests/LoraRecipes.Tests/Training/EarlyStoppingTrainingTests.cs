using System.Security.Cryptography;
using System.Text.Json.Nodes;
using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;
using LoraRecipes.Training;

namespace LoraRecipes.Tests.Training;

/// <summary>
/// evaluation.early_stopping and keep: best on builtin:tiny-llama: a learning rate high enough to overfit 18 examples, evaluated
/// every step. With a constant schedule the weights after step k do not depend on how many steps the run has, so the best
/// evaluation's weights can be compared with an independent run of exactly that many steps.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public sealed class EarlyStoppingTrainingTests : IDisposable
{
    private const int MaxSteps = 24;
    private static readonly string[] Settings =
    [
        $"training.max_steps={MaxSteps}", "training.scheduler=constant", "training.learning_rate=5e-2", "training.checkpoint_every=2",
        "evaluation.every=1",
    ];
    private static readonly string[] Stopping = ["evaluation.early_stopping.patience=2", "evaluation.early_stopping.min_delta=0.001"];
    private readonly TrainingFixture _fixture = new();
    private readonly string _recipe;

    public EarlyStoppingTrainingTests() => _recipe = _fixture.Recipe();

    public void Dispose() => _fixture.Dispose();

    private TrainingPlan Plan(string output, params string[] more) => _fixture.Plan(_recipe, [.. Settings, "output.dir=" + output, .. more]);

    [Fact]
    public void StopsAfterPatienceEvaluationsWithoutImprovementKeepsTheBestEvaluationsWeightsAndResumesToTheSameBytes()
    {
        var plan = Plan("out/best", [.. Stopping, "evaluation.keep=best"]);
        var events = new List<TrainingEvent>();
        new LoraTrainer(plan, events.Add).Run();

        // The rule replayed by hand over the evaluations the run logged: lower loss by more than 0.001, patience 2.
        var evals = events.OfType<EvaluationCompleted>().ToList();
        (double best, int bestStep, int without, int? stopAt) = (double.PositiveInfinity, -1, 0, null);
        foreach (var e in evals)
        {
            if (e.Loss < best - 0.001) (best, bestStep, without) = (e.Loss, e.Step, 0);
            else if (++without == 2) { stopAt = e.Step; break; }
        }
        string curve = string.Join(", ", evals.Select(e => $"{e.Step}:{e.Loss:F4}"));
        Assert.True(stopAt is not null, "the run did not overfit: " + curve);
        var stop = Assert.Single(events.OfType<EarlyStopped>());
        Assert.Equal((stopAt!.Value, bestStep, best, 2, 0.001), (stop.Step, stop.BestStep, stop.BestValue, stop.Patience, stop.MinDelta));
        Assert.True(stop.Step < MaxSteps && bestStep > 0, curve);
        Assert.Equal(stop.Step, events.OfType<StepCompleted>().Count());
        Assert.Equal(stop.Step, evals[^1].Step);   // no extra evaluation after the stop

        var manifest = LoraManifest.Read(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest));
        Assert.Equal(new ManifestStopping
        {
            Reason = "early_stopping", StoppedAtStep = stop.Step, Metric = "loss", Mode = "min", Patience = 2, MinDelta = 0.001,
            BestStep = bestStep, BestValue = best, Keep = "best", KeptStep = bestStep,
        }, manifest.Stopping);

        // Independent: a plain run of bestStep steps ends with the same adapter bytes and validation loss.
        var reference = Plan("out/reference", $"training.max_steps={bestStep}");
        var summary = new LoraTrainer(reference).Run();
        Assert.Equal(Hash(reference), Hash(plan));
        Assert.Equal(best, summary.FinalValidationLoss);

        // Resume keeps the rule's state and the best weights: interrupted twice (before the best evaluation, and one step
        // before the stop), the run stops at the same step with the same adapter bytes and the same manifest note.
        Assert.True(stop.Step >= 4, "the stop comes too early to interrupt before it: " + curve);
        var resumed = Plan("out/resumed", [.. Stopping, "evaluation.keep=best"]);
        foreach (int stopAfter in new[] { 2, stop.Step - 1 })
        {
            using var cancel = new CancellationTokenSource();
            var trainer = new LoraTrainer(resumed, e => { if (e is StepCompleted s && s.Step == stopAfter) cancel.Cancel(); }, new TrainerOptions { Resume = true });
            Assert.Throws<TrainingInterruptedException>(() => trainer.Run(cancel.Token));
        }
        var resumedEvents = new List<TrainingEvent>();
        new LoraTrainer(resumed, resumedEvents.Add, new TrainerOptions { Resume = true }).Run();
        Assert.Equal(stop.Step - 1, Assert.Single(resumedEvents.OfType<RunResumed>()).Step);
        Assert.Equal(stop, Assert.Single(resumedEvents.OfType<EarlyStopped>()));
        Assert.Equal(Hash(plan), Hash(resumed));
        Assert.Equal(manifest.Stopping, LoraManifest.Read(Path.Combine(resumed.OutputDirectory, ArtifactFiles.Manifest)).Stopping);
    }

    [Fact]
    public void KeepLastWithEarlyStoppingSavesTheStopStepsWeightsAndWithoutEitherNothingChanges()
    {
        var plan = Plan("out/last", Stopping);
        var events = new List<TrainingEvent>();
        new LoraTrainer(plan, events.Add).Run();
        int stopStep = Assert.Single(events.OfType<EarlyStopped>()).Step;
        var manifest = LoraManifest.Read(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest));
        Assert.Equal(("early_stopping", "last", stopStep), (manifest.Stopping!.Reason, manifest.Stopping.Keep, manifest.Stopping.KeptStep));

        // A plain run of stopStep steps: same bytes, and its manifest has no stopping section (keep: last, no early stopping).
        var plain = Plan("out/plain", $"training.max_steps={stopStep}");
        var plainEvents = new List<TrainingEvent>();
        new LoraTrainer(plain, plainEvents.Add).Run();
        Assert.Equal(Hash(plain), Hash(plan));
        Assert.Empty(plainEvents.OfType<EarlyStopped>());
        Assert.Null(LoraManifest.Read(Path.Combine(plain.OutputDirectory, ArtifactFiles.Manifest)).Stopping);
        Assert.DoesNotContain("stopping", File.ReadAllText(Path.Combine(plain.OutputDirectory, ArtifactFiles.Manifest)));
    }

    [Fact]
    public void KeepBestOnARunThatCompletesSaysCompleted()
    {
        var plan = Plan("out/completed", "evaluation.keep=best", "training.max_steps=3");
        var events = new List<TrainingEvent>();
        new LoraTrainer(plan, events.Add).Run();
        Assert.Empty(events.OfType<EarlyStopped>());
        var s = LoraManifest.Read(Path.Combine(plan.OutputDirectory, ArtifactFiles.Manifest)).Stopping!;
        var evals = events.OfType<EvaluationCompleted>().ToList();
        var min = evals.MinBy(e => e.Loss)!;   // min_delta 0: the first evaluation reaching the minimum
        Assert.Equal(("completed", 3, (int?)null, min.Step, min.Loss), (s.Reason, s.StoppedAtStep, s.Patience, s.BestStep, s.BestValue));
    }

    private static string Hash(TrainingPlan plan) =>
        Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(plan.OutputDirectory, ArtifactFiles.AdapterWeights))));
}
