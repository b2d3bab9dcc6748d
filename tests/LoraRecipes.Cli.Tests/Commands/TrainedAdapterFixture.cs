namespace LoraRecipes.Cli.Tests.Commands;

/// <summary>One tiny adapter trained once (2 steps at a high learning rate so B moves) for every after-training test.</summary>
public sealed class TrainedAdapterFixture : IDisposable
{
    public TrainedAdapterFixture()
    {
        Recipe = new RecipeFolder();
        var (code, output) = CliRunner.Run("run", Recipe.Recipe, "--set", "training.learning_rate=0.02", "--set", "evaluation.every=1");
        if (code != 0) throw new InvalidOperationException("training the fixture adapter failed:\n" + output);
        Adapter = Path.Combine(Recipe.Directory, "out");
    }

    internal RecipeFolder Recipe { get; }

    /// <summary>The artifact folder.</summary>
    public string Adapter { get; }

    public void Dispose() => Recipe.Dispose();
}

[CollectionDefinition(Name)]
public sealed class TrainedAdapterCollection : ICollectionFixture<TrainedAdapterFixture>
{
    public const string Name = "trained adapter";
}
