using System.Diagnostics;
using static TorchSharp.torch;

namespace LoraRecipes.Bench;

/// <summary>
/// <c>--micro</c>: A/B timings of single ops (forward + backward) at the 25m model's shapes, the variants interleaved
/// and the minimum of several rounds kept, so that other processes' load falls on both alike. For profiling only.
/// </summary>
internal static class Micro
{
    public static void Run(int tokens = 2048, int hidden = 512, int inter = 1376, int vocab = 8192, int heads = 8, int seq = 256)
    {
        int b = tokens / seq, hd = hidden / heads;
        var bf = ScalarType.BFloat16;
        var f32 = ScalarType.Float32;
        Compare("sdpa causal (B,nh,T,hd) fwd+bwd", new (string, Action)[]
        {
            ("fp32", () => Sdpa(f32, b, heads, seq, hd, castToFp32: false)),
            ("bf16", () => Sdpa(bf, b, heads, seq, hd, castToFp32: false)),
            ("bf16 via fp32", () => Sdpa(bf, b, heads, seq, hd, castToFp32: true)),
            ("fp32 math backend", () => WithoutFlash(() => Sdpa(f32, b, heads, seq, hd, castToFp32: false))),
            ("bf16 math backend", () => WithoutFlash(() => Sdpa(bf, b, heads, seq, hd, castToFp32: false))),
        });
        Compare($"linear {hidden}→{inter} fwd+input-grad", new (string, Action)[]
        {
            ("fp32", () => Linear(f32, tokens, hidden, inter)), ("bf16", () => Linear(bf, tokens, hidden, inter)),
        });
        Compare($"lm_head {hidden}→{vocab} + fp32 CE fwd+bwd", new (string, Action)[]
        {
            ("fp32", () => Head(f32, tokens, hidden, vocab)), ("bf16", () => Head(bf, tokens, hidden, vocab)),
        });
        Compare("rmsnorm fwd+bwd", new (string, Action)[]
        {
            ("fp32", () => Norm(f32, tokens, hidden)), ("bf16", () => Norm(bf, tokens, hidden)),
            ("fp32 square", () => NormSquare(f32, tokens, hidden)), ("bf16 square", () => NormSquare(bf, tokens, hidden)),
            ("fp32 vector_norm", () => NormVector(f32, tokens, hidden)), ("bf16 vector_norm", () => NormVector(bf, tokens, hidden)),
        });
        Compare("silu(gate)·up fwd+bwd", new (string, Action)[]
        {
            ("fp32", () => Swiglu(f32, tokens, inter)), ("bf16", () => Swiglu(bf, tokens, inter)),
        });
    }

    /// <summary>
    /// <c>--micro-head</c>: one training forward + backward of a real model (default the 25m size) through the plain
    /// path (full logits) and the trainer's (head at scored positions), with every position scored and with the first
    /// half of each row a masked prompt; interleaved, fastest of 7 rounds.
    /// </summary>
    public static void HeadPaths(string folder, ScalarType dtype, int batch = 8, int seq = 256)
    {
        using var loaded = Models.ModelLoader.Load(folder, CPU, dtype);
        var model = loaded.Module;
        var lm = (Models.ICausalLM)model;
        Lora.LoraInjector.Inject(model, new Lora.LoraSettings(8, 16, 0.0, ["q_proj", "v_proj"]));
        model.train();
        var g = new Generator(1);
        var ids = randint(0, loaded.Config.VocabSize, new long[] { batch, seq }, generator: g);
        var halfMasked = ids.clone();
        halfMasked.narrow(1, 0, seq / 2).fill_(Data.ExampleEncoder.IgnoreIndex);
        void Plain(Tensor labels)
        {
            using var s = NewDisposeScope();
            Evaluation.CausalLoss.Sum(model.forward(ids), labels).backward();
            foreach (var p in model.parameters()) p.grad = null;
        }
        void Scored(Tensor labels)
        {
            using var s = NewDisposeScope();
            using var loss = Evaluation.CausalLoss.FromHidden(lm, lm.Hidden(ids), labels);
            loss.Backward();
            foreach (var p in model.parameters()) p.grad = null;
        }
        Compare($"{dtype} step fwd+bwd, all scored", new (string, Action)[] { ("full logits", () => Plain(ids)), ("scored head", () => Scored(ids)) });
        Compare($"{dtype} step fwd+bwd, half masked", new (string, Action)[] { ("full logits", () => Plain(halfMasked)), ("scored head", () => Scored(halfMasked)) });
    }

    /// <summary>
    /// <c>--micro-head-chunk</c>: the tied/untied head's pieces at the 44m shape (H 512, V 32,000, N = 2040 scored rows)
    /// per chunk size: the logits matmul against W (V, H) as <c>linear</c> runs it (x·Wᵀ) and against a contiguous Wᵀ,
    /// the input-gradient matmul, and the cross-entropy's forward + backward through autograd vs computed in place.
    /// Interleaved, fastest of the rounds; each variant covers all N rows chunk by chunk.
    /// </summary>
    public static void HeadChunks(int n = 2040, int hidden = 512, int vocab = 32000)
    {
        var w = Input("hw", () => randn(vocab, hidden) * 0.05);
        var wt = Input("hwt", () => w.t().contiguous());
        var x = Input("hx", () => randn(n, hidden));
        var target = Input("ht", () => randint(0, vocab, new long[] { n }));
        foreach (long rows in new long[] { 2040, 1048, 512, 256, 128, 64, 32 })
        {
            void Chunks(Action<Tensor, Tensor> body)
            {
                for (long s = 0; s < n; s += rows)
                {
                    using var scope = NewDisposeScope();
                    long len = Math.Min(rows, n - s);
                    body(x.narrow(0, s, len), target.narrow(0, s, len));
                }
            }
            Compare($"{rows} rows/chunk ({rows * vocab * 4 >> 20} MiB fp32 logits)", new (string, Action)[]
            {
                ("x·Wᵀ (linear)", () => Chunks((xi, _) => nn.functional.linear(xi, w))),
                ("x·(Wᵀ contiguous)", () => Chunks((xi, _) => xi.mm(wt))),
                ("g·W (input grad)", () => Chunks((xi, _) => nn.functional.linear(xi, w).mm(w))),
                ("CE autograd fwd+bwd", () => Chunks((xi, ti) =>
                {
                    var leaf = nn.functional.linear(xi, w).detach().requires_grad_(true);
                    nn.functional.cross_entropy(leaf, ti, reduction: nn.Reduction.Sum).backward();
                })),
                ("CE in place", () => Chunks((xi, ti) =>
                {
                    var logits = nn.functional.linear(xi, w);
                    using var g = no_grad();
                    var picked = logits.gather(1, ti.unsqueeze(1));
                    var max = logits.amax(new long[] { 1 }, keepdim: true);
                    logits.sub_(max).exp_();
                    var z = logits.sum(1, keepdim: true);
                    logits.div_(z);
                    _ = (max + z.log() - picked).sum().item<float>();
                })),
                ("head+CE autograd (all)", () => Chunks((xi, ti) =>
                {
                    var leaf = xi.detach().requires_grad_(true);
                    nn.functional.cross_entropy(nn.functional.linear(leaf, w), ti, reduction: nn.Reduction.Sum).backward();
                })),
            }, rounds: 3);
        }
    }

    /// <summary>
    /// <c>--micro-attention</c>: causal attention forward + backward at the bench models' shapes, libtorch's fused
    /// (flash) CPU kernel against the explicit form (scores = q·kᵀ·s, masked, softmax in fp32, ·v) that materialises
    /// the (B, nh, T, T) probabilities. Interleaved, fastest of the rounds.
    /// </summary>
    public static void Attention()
    {
        foreach (var (label, b, nh, t, hd) in new (string, int, int, int, int)[]
        {
            ("tiny", 8, 8, 256, 32), ("25m/44m", 8, 8, 256, 64), ("minilm", 16, 12, 128, 32),
            ("25m seq 512", 4, 8, 512, 64), ("25m seq 1024", 2, 8, 1024, 64),
        })
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
                Compare($"{label} ({b}, {nh}, {t}, {hd}) {dtype}", new (string, Action)[]
                {
                    ("fused", () => AttentionStep(dtype, b, nh, t, hd, explicitForm: false)),
                    ("explicit", () => AttentionStep(dtype, b, nh, t, hd, explicitForm: true)),
                });
    }

    private static void AttentionStep(ScalarType dtype, int b, int nh, int t, int hd, bool explicitForm)
    {
        using var s = NewDisposeScope();
        string key = $"{dtype}{b}.{nh}.{t}.{hd}";
        var (q, k, v) = (Leaf("aq" + key, dtype, b, nh, t, hd), Leaf("ak" + key, dtype, b, nh, t, hd), Leaf("av" + key, dtype, b, nh, t, hd));
        Tensor y;
        if (!explicitForm) y = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        else
        {
            var above = Input("mask" + t, () => ones(t, t, dtype: ScalarType.Bool).triu(1));
            var scores = q.matmul(k.transpose(-2, -1)).to(ScalarType.Float32).mul_(1.0 / Math.Sqrt(hd)).masked_fill_(above, double.NegativeInfinity);
            y = scores.softmax(-1).to(dtype).matmul(v);
        }
        y.backward(new[] { Input("ag" + key, () => randn(y.shape).to(dtype)) });
        q.grad = null; k.grad = null; v.grad = null;
    }

    private static readonly Dictionary<string, Tensor> Inputs = new();

    private static Tensor Input(string key, Func<Tensor> make)
    {
        if (!Inputs.TryGetValue(key, out var t)) Inputs[key] = t = make().DetachFromDisposeScope();
        return t;
    }

    private static void Sdpa(ScalarType dtype, int b, int nh, int t, int hd, bool castToFp32)
    {
        using var s = NewDisposeScope();
        var (q, k, v) = (Leaf($"q{dtype}", dtype, b, nh, t, hd), Leaf($"k{dtype}", dtype, b, nh, t, hd), Leaf($"v{dtype}", dtype, b, nh, t, hd));
        var y = castToFp32
            ? nn.functional.scaled_dot_product_attention(q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32), is_casual: true).to(dtype)
            : nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        y.backward(new[] { Input($"g{dtype}{b}", () => randn(y.shape).to(dtype)) });
        q.grad = null; k.grad = null; v.grad = null;
    }

    private static void WithoutFlash(Action run)
    {
        backends.cuda.enable_flash_sdp(false);
        try { run(); } finally { backends.cuda.enable_flash_sdp(true); }
    }

    private static Tensor Leaf(string key, ScalarType dtype, params long[] shape) => Input(key, () => randn(shape).to(dtype).requires_grad_());

    private static void Linear(ScalarType dtype, int tokens, int fin, int fout)
    {
        using var s = NewDisposeScope();
        var x = Leaf($"x{dtype}{fin}", dtype, tokens, fin);
        var w = Input($"w{dtype}{fout}", () => (randn(fout, fin) * 0.02).to(dtype));
        nn.functional.linear(x, w).backward(new[] { Input($"gl{dtype}{fout}", () => randn(tokens, fout).to(dtype)) });
        x.grad = null;
    }

    private static void Head(ScalarType dtype, int tokens, int hidden, int vocab)
    {
        using var s = NewDisposeScope();
        var x = Leaf($"x{dtype}{hidden}", dtype, tokens, hidden);
        var w = Input($"h{dtype}{vocab}", () => (randn(vocab, hidden) * 0.05).to(dtype));
        var target = Input("target", () => randint(0, vocab, new long[] { tokens }));
        nn.functional.cross_entropy(nn.functional.linear(x, w).to(ScalarType.Float32), target).backward();
        x.grad = null;
    }

    private static void Norm(ScalarType dtype, int tokens, int hidden)
    {
        using var s = NewDisposeScope();
        var x = Leaf($"x{dtype}{hidden}", dtype, tokens, hidden);
        var xf = x.to(ScalarType.Float32);
        var n = (xf * rsqrt(xf.pow(2).mean(new long[] { -1 }, keepdim: true) + 1e-5)).to(dtype);
        n.backward(new[] { Input($"gn{dtype}", () => randn(tokens, hidden).to(dtype)) });
        x.grad = null;
    }

    private static void NormSquare(ScalarType dtype, int tokens, int hidden)
    {
        using var s = NewDisposeScope();
        var x = Leaf($"x{dtype}{hidden}", dtype, tokens, hidden);
        var xf = x.to(ScalarType.Float32);
        var n = (xf * rsqrt(xf.square().mean(new long[] { -1 }, keepdim: true) + 1e-5)).to(dtype);
        n.backward(new[] { Input($"gn{dtype}", () => randn(tokens, hidden).to(dtype)) });
        x.grad = null;
    }

    private static void NormVector(ScalarType dtype, int tokens, int hidden)
    {
        using var s = NewDisposeScope();
        var x = Leaf($"x{dtype}{hidden}", dtype, tokens, hidden);
        var xf = x.to(ScalarType.Float32);
        var norm = linalg.vector_norm(xf, 2, new long[] { -1 }, keepdim: true);
        var n = (xf * rsqrt(norm.square() / hidden + 1e-5)).to(dtype);
        n.backward(new[] { Input($"gn{dtype}", () => randn(tokens, hidden).to(dtype)) });
        x.grad = null;
    }

    private static void Swiglu(ScalarType dtype, int tokens, int inter)
    {
        using var s = NewDisposeScope();
        var (a, c) = (Leaf($"a{dtype}", dtype, tokens, inter), Leaf($"c{dtype}", dtype, tokens, inter));
        (nn.functional.silu(a) * c).backward(new[] { Input($"gs{dtype}", () => randn(tokens, inter).to(dtype)) });
        a.grad = null; c.grad = null;
    }

    private static void Compare(string name, (string Label, Action Run)[] variants, int rounds = 7)
    {
        foreach (var v in variants) v.Run();   // warm-up
        var best = variants.Select(_ => double.MaxValue).ToArray();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < variants.Length; i++)
            {
                var sw = Stopwatch.StartNew();
                variants[i].Run();
                best[i] = Math.Min(best[i], sw.Elapsed.TotalMilliseconds);
            }
        Console.WriteLine($"{name}: " + string.Join(" · ", variants.Select((v, i) => $"{v.Label} {best[i]:F1} ms")));
    }
}
