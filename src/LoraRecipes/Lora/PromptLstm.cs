using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

#pragma warning disable IDE1006 // torch.nn.LSTM's parameter names: weight_ih_l0, weight_hh_l0_reverse, …

namespace LoraRecipes.Lora;

/// <summary>
/// torch.nn.LSTM(input, h, num_layers, dropout, bidirectional=True, batch_first=True) on one sequence, written out so its
/// initialisation and its dropout draw from the run's generator (a resumed run repeats them exactly). Per layer and
/// direction, for each step t (the reverse direction walks t from the end):
/// i, f, g, o = split₄(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh); c_t = σ(f) c_{t−1} + σ(i) tanh(g); h_t = σ(o) tanh(c_t);
/// the layer's output is [h_fwd ; h_rev] (2h), dropout on it between layers while training.
/// </summary>
internal sealed class PromptLstm : Module
{
    private readonly int _layers;
    private readonly long _hidden;
    private readonly double _dropout;
    private readonly Generator? _generator;

    public PromptLstm(long inputSize, long hiddenSize, int layers, double dropout, Device device, Generator? generator) : base(nameof(PromptLstm))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        (_layers, _hidden, _dropout, _generator) = (layers, hiddenSize, dropout, generator);
        double bound = 1.0 / Math.Sqrt(hiddenSize);
        for (int l = 0; l < layers; l++)
        {
            long input = l == 0 ? inputSize : 2 * hiddenSize;
            foreach (string suffix in new[] { "", "_reverse" })
            {
                foreach (var (name, shape) in new (string, long[])[]
                {
                    ($"weight_ih_l{l}{suffix}", [4 * hiddenSize, input]), ($"weight_hh_l{l}{suffix}", [4 * hiddenSize, hiddenSize]),
                    ($"bias_ih_l{l}{suffix}", [4 * hiddenSize]), ($"bias_hh_l{l}{suffix}", [4 * hiddenSize]),
                })
                {
                    var p = new Parameter(empty(shape, dtype: ScalarType.Float32, device: device));
                    using (no_grad()) p.uniform_(-bound, bound, generator);
                    register_parameter(name, p);
                }
            }
        }
    }

    /// <summary>(n, input) → (n, 2h).</summary>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var layerInput = x;
        for (int l = 0; l < _layers; l++)
        {
            var forward = Direction(layerInput, l, "");
            var backward = Direction(layerInput, l, "_reverse");
            layerInput = cat(new[] { forward, backward }, dim: 1);      // (n, 2h)
            if (l < _layers - 1 && training && _dropout > 0)
            {
                var keep = empty_like(layerInput).bernoulli_(1 - _dropout, _generator);
                layerInput = layerInput * keep / (1 - _dropout);
            }
        }
        return layerInput.MoveToOuterDisposeScope();
    }

    private Tensor Direction(Tensor x, int layer, string suffix)
    {
        var wIh = Param($"weight_ih_l{layer}{suffix}");
        var wHh = Param($"weight_hh_l{layer}{suffix}");
        var bias = Param($"bias_ih_l{layer}{suffix}") + Param($"bias_hh_l{layer}{suffix}");
        var projected = x.matmul(wIh.t()) + bias;                     // (n, 4h): the input part of every step at once
        long n = x.shape[0];
        var h = zeros(_hidden, dtype: x.dtype, device: x.device);
        var c = zeros(_hidden, dtype: x.dtype, device: x.device);
        var outputs = new Tensor[n];
        bool reverse = suffix.Length > 0;
        for (long s = 0; s < n; s++)
        {
            long t = reverse ? n - 1 - s : s;
            var gates = projected[t] + wHh.matmul(h);                   // (4h)
            var parts = gates.chunk(4);                                   // i, f, g, o
            c = parts[1].sigmoid() * c + parts[0].sigmoid() * parts[2].tanh();
            h = parts[3].sigmoid() * c.tanh();
            outputs[t] = h;
        }
        return stack(outputs);                                            // (n, h)
    }

    private Parameter Param(string name) => get_parameter(name) ?? throw new InvalidOperationException($"no LSTM parameter {name}");
}
