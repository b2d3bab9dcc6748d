using System.Diagnostics;
using static TorchSharp.torch;

namespace LoraRecipes.Bench;

/// <summary><c>--micro</c>: forward+backward time of single ops in fp32 and bf16 at the 25m model's shapes, for profiling.</summary>
internal static class Micro
{
    public static void Run(int tokens = 2048, int hidden = 512, int inter = 1376, int vocab = 8192, int heads = 8, int seq = 256)
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            Console.WriteLine($"--- {dtype}");
            Time("linear 512→1376 fwd", dtype, () => { var x = randn(tokens, hidden).to(dtype); var w = randn(inter, hidden).to(dtype); return () => nn.functional.linear(x, w).Dispose(); });
            Time("linear 512→1376 fwd+input-grad", dtype, () =>
            {
                var w = randn(inter, hidden).to(dtype);
                return () => { using var s = NewDisposeScope(); var x = randn(tokens, hidden).to(dtype).requires_grad_(); nn.functional.linear(x, w).sum().backward(); };
            });
            Time("lm_head 512→8192 + fp32 CE fwd+bwd", dtype, () =>
            {
                var w = randn(vocab, hidden).to(dtype) * 0.05;
                var t = randint(0, vocab, new long[] { tokens });
                return () => { using var s = NewDisposeScope(); var x = randn(tokens, hidden).to(dtype).requires_grad_(); nn.functional.cross_entropy(nn.functional.linear(x, w).to(ScalarType.Float32), t).backward(); };
            });
            Time("sdpa causal fwd+bwd (8,8,256,64)", dtype, () =>
            {
                return () => { using var s = NewDisposeScope(); var q = randn(8, heads, seq, hidden / heads).to(dtype).requires_grad_(); var k = randn(8, heads, seq, hidden / heads).to(dtype).requires_grad_(); var v = randn(8, heads, seq, hidden / heads).to(dtype).requires_grad_();
                    nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true).sum().backward(); };
            });
            Time("rmsnorm-ish fwd+bwd", dtype, () =>
            {
                var g = ones(hidden).to(dtype);
                return () => { using var s = NewDisposeScope(); var x = randn(tokens, hidden).to(dtype).requires_grad_(); var xf = x.to(ScalarType.Float32);
                    var n = (xf * rsqrt(xf.pow(2).mean(new long[] { -1 }, keepdim: true) + 1e-5)).to(dtype); (g * n).sum().backward(); };
            });
            Time("silu*up fwd+bwd", dtype, () =>
            {
                return () => { using var s = NewDisposeScope(); var a = randn(tokens, inter).to(dtype).requires_grad_(); var b = randn(tokens, inter).to(dtype).requires_grad_(); (nn.functional.silu(a) * b).sum().backward(); };
            });
        }
    }

    private static void Time(string name, ScalarType dtype, Func<Action> setup)
    {
        using var scope = NewDisposeScope();
        var action = setup();
        action();
        var times = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        Console.WriteLine($"  {name,-40} min {times[0],8:F1} ms  median {times[2],8:F1} ms");
    }
}
