using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Models;

/// <summary>The activations HF's <c>ACT2FN</c> names, by their config.json spelling.</summary>
public static class Activations
{
    /// <summary>config.json values this code implements.</summary>
    public static IReadOnlyList<string> Supported { get; } = ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu"];

    /// <summary>Applies the activation called <paramref name="name"/> (checked when the config is read).</summary>
    public static Tensor Apply(string name, Tensor x) => name switch
    {
        "gelu" => nn.functional.gelu(x),                                // exact: x·Φ(x)
        "gelu_new" or "gelu_pytorch_tanh" => GeluTanh(x),
        "relu" => nn.functional.relu(x),
        "silu" => nn.functional.silu(x),
        _ => throw new NotSupportedException($"activation '{name}' is not supported; supported: {string.Join(", ", Supported)}"),
    };

    /// <summary>GPT-2's gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    public static Tensor GeluTanh(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inner = x.add(x.pow(Three).mul(Cubic)).mul(SqrtTwoOverPi);
        return x.mul(Half).mul(inner.tanh().add(One)).MoveToOuterDisposeScope();
    }

    // Static Scalars: an implicitly converted double can be finalized while libtorch reads it (TorchSharp#1434).
    private static readonly Scalar Three = 3.ToScalar(), Cubic = 0.044715.ToScalar(), SqrtTwoOverPi = Math.Sqrt(2.0 / Math.PI).ToScalar(),
        Half = 0.5.ToScalar(), One = 1.0.ToScalar();
}
