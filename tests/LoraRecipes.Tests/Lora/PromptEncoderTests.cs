using LoraRecipes.Lora;
using LoraRecipes.Recipes;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Lora;

/// <summary>
/// P-tuning's encoder against hand-written formulas (MLP; torch.nn.LSTM's equations for the bidirectional LSTM); prompt tuning's TEXT init as PEFT repeats and cuts the tokens; what is saved.
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
    public void LstmEncoderIsABidirectionalLstmThenTheTwoLayerHead()
    {
        using var g = new Generator(12);
        using var encoder = new PromptEncoder(N, H, Hidden, PromptEncoderType.Lstm, 2, 0, CPU, g);
        using var guard = no_grad();
        // torch.nn.LSTM's equations, step by step: (i, f, g, o) = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh (four blocks of h),
        // c_t = σ(f) c_{t-1} + σ(i) tanh(g), h_t = σ(o) tanh(c_t); the reverse direction runs t = n-1 … 0; a layer's output
        // is [forward h_t ; reverse h_t]. (TorchSharp's own nn.LSTM could not serve here: weights copied into its
        // parameters did not change its output.)
        var layerInput = Enumerable.Range(0, N).Select(t => P(encoder, "embedding.weight")[t]).ToArray();
        for (int l = 0; l < 2; l++)
        {
            var outputs = new Tensor[N];
            foreach (string dir in new[] { "", "_reverse" })
            {
                var h = zeros(Hidden);
                var c = zeros(Hidden);
                var order = dir == "" ? Enumerable.Range(0, N) : Enumerable.Range(0, N).Reverse();
                foreach (int t in order)
                {
                    var z = P(encoder, $"lstm_head.weight_ih_l{l}{dir}").matmul(layerInput[t]) + P(encoder, $"lstm_head.bias_ih_l{l}{dir}")
                          + P(encoder, $"lstm_head.weight_hh_l{l}{dir}").matmul(h) + P(encoder, $"lstm_head.bias_hh_l{l}{dir}");
                    var i = z[..Hidden].sigmoid();
                    var f = z[Hidden..(2 * Hidden)].sigmoid();
                    var cell = z[(2 * Hidden)..(3 * Hidden)].tanh();
                    var o = z[(3 * Hidden)..].sigmoid();
                    c = f * c + i * cell;
                    h = o * c.tanh();
                    outputs[t] = dir == "" ? h : cat(new[] { outputs[t], h });
                }
            }
            layerInput = outputs;
        }
        var lstm = stack(layerInput);                                                              // (n, 2h)
        var h1 = (lstm.matmul(P(encoder, "mlp_head.0.weight").t()) + P(encoder, "mlp_head.0.bias")).clamp_min(0);
        var expected = h1.matmul(P(encoder, "mlp_head.2.weight").t()) + P(encoder, "mlp_head.2.bias");
        using var actual = encoder.Prompts();
        double diff = (expected - actual).abs().max().item<float>();
        Assert.True(diff < 1e-5, $"max |difference| {diff}");
        Assert.Equal(new long[] { 4 * Hidden, 2 * Hidden }, P(encoder, "lstm_head.weight_ih_l1_reverse").shape);
        Assert.Equal(new long[] { N, H }, actual.shape);
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
        using (var output = encoder.Prompts()) Assert.True(TensorAssert.Same(output, value));
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
