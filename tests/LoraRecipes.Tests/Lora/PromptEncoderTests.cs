using LoraRecipes.Lora;
using LoraRecipes.Recipes;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Lora;

/// <summary>
/// P-tuning's encoder against hand-written formulas (MLP) and against libtorch's own LSTM (torch.nn.LSTM, bidirectional,
/// batch_first) given the same weights; prompt tuning's TEXT init as PEFT repeats and cuts the tokens; what is saved.
/// </summary>
public sealed class PromptEncoderTests
{
    private const int N = 5, H = 12, Hidden = 7;

    private static Tensor P(nn.Module m, string name) => m.named_parameters().Single(p => p.name == name).parameter;

    [Fact]
    public void MlpEncoderIsThreeLinearsWithReluBetween()
    {
        using var g = new Generator(11);
        using var encoder = new PromptEncoder(N, H, Hidden, PromptEncoderType.Mlp, 2, 0, CPU, g);
        using var guard = no_grad();
        var e = P(encoder, "embedding.weight");                            // (n, H)
        Assert.Equal(new long[] { N, H }, e.shape);
        // out = W₃ relu(W₂ relu(W₁ e + b₁) + b₂) + b₃, by hand
        var h1 = (e.matmul(P(encoder, "mlp_head.0.weight").t()) + P(encoder, "mlp_head.0.bias")).clamp_min(0);
        var h2 = (h1.matmul(P(encoder, "mlp_head.2.weight").t()) + P(encoder, "mlp_head.2.bias")).clamp_min(0);
        var expected = h2.matmul(P(encoder, "mlp_head.4.weight").t()) + P(encoder, "mlp_head.4.bias");
        using var actual = encoder.Prompts();
        Assert.True(expected.allclose(actual, 1e-6, 1e-6));
        Assert.Equal(new long[] { Hidden, H }, P(encoder, "mlp_head.0.weight").shape);
        Assert.Equal(new long[] { H, Hidden }, P(encoder, "mlp_head.4.weight").shape);
        // PEFT's count: embedding + the three linears.
        Assert.Equal(N * H + (H * Hidden + Hidden) + (Hidden * Hidden + Hidden) + (Hidden * H + H), encoder.TrainableParameterCount);
    }

    [Fact]
    public void LstmEncoderMatchesTorchsBidirectionalLstmThenTheTwoLayerHead()
    {
        using var g = new Generator(12);
        using var encoder = new PromptEncoder(N, H, Hidden, PromptEncoderType.Lstm, 2, 0, CPU, g);
        using var reference = nn.LSTM(H, Hidden, numLayers: 2, batchFirst: true, bidirectional: true);
        using var guard = no_grad();
        foreach (var (name, p) in reference.named_parameters()) p.copy_(P(encoder, "lstm_head." + name));
        var (output, _, _) = reference.forward(P(encoder, "embedding.weight").unsqueeze(0));   // (1, n, 2h)
        var o = output.squeeze(0);
        var h1 = (o.matmul(P(encoder, "mlp_head.0.weight").t()) + P(encoder, "mlp_head.0.bias")).clamp_min(0);
        var expected = h1.matmul(P(encoder, "mlp_head.2.weight").t()) + P(encoder, "mlp_head.2.bias");
        using var actual = encoder.Prompts();
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff < 1e-5, $"max |difference| {diff}");
        Assert.Equal(new long[] { 4 * Hidden, 2 * Hidden }, P(encoder, "lstm_head.weight_ih_l1_reverse").shape);
    }

    [Fact]
    public void SavedPromptEmbeddingsAreTheEncoderOutputUnderPeftsName()
    {
        using var g = new Generator(13);
        using var encoder = new PromptEncoder(N, H, Hidden, PromptEncoderType.Lstm, 2, 0.5, CPU, g);
        encoder.train();
        var saved = encoder.SavedTensors().ToList();
        Assert.True(encoder.training);   // back in training mode after saving
        var (name, value) = Assert.Single(saved);
        Assert.Equal("prompt_embeddings", name);
        Assert.Equal(new long[] { N, H }, value.shape);
        encoder.eval();
        using (no_grad())
        using (var output = encoder.Prompts()) Assert.True(output.equal(value).item<bool>());
    }

    [Fact]
    public void TextInitRepeatsOrCutsTheTokensAsPeft()
    {
        Assert.Equal(new[] { 4, 9, 2, 4, 9, 2, 4 }, PromptLearningSettings.RepeatToLength([4, 9, 2], 7));
        Assert.Equal(new[] { 4, 9 }, PromptLearningSettings.RepeatToLength([4, 9, 2], 2));
    }

    [Fact]
    public void RandomInitIsStandardNormalLikeTorchEmbedding()
    {
        using var g = new Generator(14);
        using var embedding = new PromptEmbedding(200, 50, CPU, generator: g);
        using var guard = no_grad();
        using var w = embedding.Prompts();
        Assert.InRange(w.mean().item<float>(), -0.05, 0.05);
        Assert.InRange(w.std().item<float>(), 0.95, 1.05);
        Assert.Equal(200 * 50, embedding.TrainableParameterCount);
    }
}
