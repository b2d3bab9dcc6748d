using LoraRecipes.Training;
using LoraRecipes.Tests;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Training;

public class ParameterCountTests
{
    [Fact]
    public void ATiedWeightCountsOnce()
    {
        // Like a tied lm_head: the second layer holds the first one's weight (3×4) itself.
        var first = nn.Linear(4, 3);
        var second = nn.Linear(4, 3, hasBias: false);
        second.weight = first.weight;
        var model = nn.Sequential(("embed", first), ("head", second));
        Assert.Equal(3 * 4 + 3, TrainableParameters.CountDistinct(model));   // torch's parameters() count
    }

    [Fact]
    public void ATiedLlamaCountsItsEmbeddingOnce()
    {
        var config = TinyModels.Config(gqa: false, tied: true);
        using var tied = TinyModels.Create(config);
        using var untied = new LoraRecipes.Models.LlamaForCausalLM(TinyModels.Config(gqa: false, tied: false));
        long naiveTied = tied.parameters().Sum(p => p.numel());
        Assert.Equal(TrainableParameters.CountDistinct(untied) - (long)config.VocabSize * config.HiddenSize, TrainableParameters.CountDistinct(tied));
        Assert.True(naiveTied >= TrainableParameters.CountDistinct(tied), $"naive {naiveTied}");
    }

    [Fact]
    public void UntiedWeightsOfTheSameShapeCountSeparately()
    {
        var model = nn.Sequential(("a", nn.Linear(4, 3, hasBias: false)), ("b", nn.Linear(4, 3, hasBias: false)));
        Assert.Equal(2 * 3 * 4, TrainableParameters.CountDistinct(model));
    }
}
