namespace LoraRecipes.Bench;

/// <summary>Command-line options (see the usage text).</summary>
internal sealed record BenchOptions
{
    public IReadOnlyList<string> Sizes { get; init; } = ["tiny", "25m", "44m", "44m-untied", "152k", "minilm"];
    public IReadOnlyList<int> Seqs { get; init; } = [256];
    public IReadOnlyList<string> Precisions { get; init; } = ["fp32", "bf16"];
    public IReadOnlyList<string> PeerPrecisions { get; init; } = ["fp32", "bf16"];
    /// <summary>True when --precision / --peer-precision were given: then they run as asked, native or not.</summary>
    public bool PrecisionsGiven { get; init; }
    public bool PeerPrecisionsGiven { get; init; }
    public int Batch { get; init; } = 8;
    public int Steps { get; init; } = 12;
    public bool StepsGiven { get; init; }
    /// <summary>Steps of a large size's row when --steps is not given (2 warm-up + 6 timed): keeps the default run in minutes.</summary>
    public const int LargeSteps = 6;
    /// <summary>The end-to-end row's size (<see cref="EndToEndBench"/>), null for none; its steps (the 24).</summary>
    public string? EndToEnd { get; init; } = "44m";
    public int EndToEndSteps { get; init; } = 12;
    public int EndToEndRounds { get; init; } = 1;
    public int Rank { get; init; } = 8;
    public double Alpha { get; init; } = 16;
    public IReadOnlyList<string> Targets { get; init; } = ["q_proj", "v_proj"];
    public int? Threads { get; init; }
    public string? Json { get; init; }
    public bool NoPeer { get; init; }
    public string? Python { get; init; }
    public int MmapThreshold { get; init; }
    public IReadOnlyList<string> Heads { get; init; } = ["scored"];
    public double PromptFraction { get; init; }
    public int? TokensPerStep { get; init; }

    /// <summary>
    /// The precisions this CPU runs natively, unless asked for explicitly: without native bf16 matmuls (no
    /// avx512_bf16/amx_bf16) libtorch emulates bf16 at ~1–2 GFLOP/s, so by default only fp32 runs there. Returns the
    /// options to run and, when something was dropped, the line that says what and why.
    /// </summary>
    public (BenchOptions Options, string? Skipped) ForCpu(bool nativeBf16)
    {
        if (nativeBf16) return (this, null);
        var precisions = PrecisionsGiven ? Precisions : Precisions.Where(p => p != "bf16").ToList();
        var peer = PeerPrecisionsGiven ? PeerPrecisions : PeerPrecisions.Where(p => p != "bf16").ToList();
        if (precisions.Count == Precisions.Count && peer.Count == PeerPrecisions.Count) return (this, null);
        return (this with { Precisions = precisions, PeerPrecisions = peer },
            "bf16 rows skipped: this CPU has no native bf16 matmul (neither avx512_bf16 nor amx_bf16 in /proc/cpuinfo), so libtorch " +
            "would emulate it at ~1–2 GFLOP/s and the run would take hours; pass --precision fp32,bf16 (and --peer-precision fp32,bf16) to run them anyway.");
    }

    /// <summary>Steps of a row of <paramref name="size"/>: --steps, else 12, or <see cref="LargeSteps"/> for a large size.</summary>
    public int StepsFor(string size) => StepsGiven || !BenchModels.IsLarge(size) ? Steps : LargeSteps;

    /// <summary>Precisions of <paramref name="size"/>'s rows: a large size runs fp32 only unless --precision was given (the comparison is fp32).</summary>
    public IReadOnlyList<string> PrecisionsFor(string size) =>
        PrecisionsGiven || !BenchModels.IsLarge(size) || !Precisions.Contains("fp32") ? Precisions : ["fp32"];

    /// <summary>Sequences per step at length <paramref name="seq"/>: --batch, or --tokens-per-step / seq.</summary>
    public int BatchFor(int seq) => TokensPerStep is { } n ? Math.Max(1, n / seq) : Batch;

    public const string Usage = """
        usage: dotnet run -c Release --project bench/LoraRecipes.Bench -- [options]
          --sizes tiny,25m,44m,...     model sizes (default tiny,25m,44m,44m-untied,152k,minilm; also 44m-gqa, 110m):
                                       44m is llama2.c's shape (dim 512, 8 layers, 8 heads, FFN 1536, vocab 32,000,
                                       tied), 44m-untied the same with its own head, 44m-gqa 2 key/value heads, 25m
                                       GQA 8/4 untied (vocab 8192), 152k a 2-layer tied decoder with Qwen2.5's
                                       151,936-token vocabulary; minilm is the pretrained all-MiniLM-L6-v2 encoder
                                       (builtin:minilm) trained as a 2-class sequence classifier
          --seq 128,256,512,1024       sequence lengths (default 256)
          --batch N                    sequences per step (default 8)
          --tokens-per-step N          batch = N / seq for each sequence length (a sweep at constant tokens per step)
          --steps N                    steps per row, the first 2 untimed (default 12, 6 for 44m/152k/110m; > 10 for the memory check)
          --end-to-end SIZE|none       the end-to-end row: `dotnet-lora run` on a generated recipe vs a plain PyTorch
                                       script doing the same work, both fresh processes (default 44m)
          --end-to-end-steps N         its optimizer steps (default 12; the issue's run was 24)
          --end-to-end-rounds N        alternate N runs of each side, keep each side's fastest (default 1)
          --precision fp32,bf16        base precisions to run (default both where the CPU multiplies bf16 natively, else fp32;
                                       44m/152k/110m: fp32 unless given)
          --peer-precision fp32,bf16   precisions the PyTorch peer runs, beside our row of the same precision (default: as --precision)
          --rank R --alpha A           LoRA rank and alpha (default 8, 16)
          --targets q_proj,v_proj      LoRA targets, or all-linear (encoder rows: the default means query,value)
          --threads N                  CPU threads (default: physical cores)
          --json FILE                  also write the rows as JSON
          --no-peer                    skip the PyTorch peer
          --python PATH                python with torch for the peer (default /usr/bin/python3)
          --head scored,full,previous  loss path: head at scored positions, chunked (the trainer's, default), or
                                       full (B, T, V) logits then cross-entropy (the plain path); both for an A/B;
                                       previous: the trainer's path before bench/NOTES.md §14 (autograd CE, 2^25 chunks)
          --prompt-fraction F          leading fraction of each row that is unscored prompt (default 0: every
                                       position scored); the peer masks the same labels
          --mmap-threshold BYTES       pin glibc's mmap threshold for the timed rows (default 0: glibc's dynamic one, as the trainer)
        """;

    public static BenchOptions? Parse(string[] args)
    {
        var o = new BenchOptions();
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                List<string> List() => Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
                o = args[i] switch
                {
                    "--sizes" => o with { Sizes = List() },
                    "--seq" => o with { Seqs = List().Select(int.Parse).ToList() },
                    "--batch" => o with { Batch = int.Parse(Next()) },
                    "--steps" => o with { Steps = int.Parse(Next()), StepsGiven = true },
                    "--end-to-end" => o with { EndToEnd = Next() is var e && e == "none" ? null : e },
                    "--end-to-end-steps" => o with { EndToEndSteps = int.Parse(Next()) },
                    "--end-to-end-rounds" => o with { EndToEndRounds = int.Parse(Next()) },
                    "--precision" => o with { Precisions = List(), PrecisionsGiven = true },
                    "--peer-precision" => o with { PeerPrecisions = List(), PeerPrecisionsGiven = true },
                    "--rank" => o with { Rank = int.Parse(Next()) },
                    "--alpha" => o with { Alpha = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) },
                    "--targets" => o with { Targets = List() },
                    "--threads" => o with { Threads = int.Parse(Next()) },
                    "--json" => o with { Json = Next() },
                    "--no-peer" => o with { NoPeer = true },
                    "--python" => o with { Python = Next() },
                    "--tokens-per-step" => o with { TokensPerStep = int.Parse(Next()) },
                    "--head" => o with { Heads = List() },
                    "--prompt-fraction" => o with { PromptFraction = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) },
                    "--mmap-threshold" => o with { MmapThreshold = int.Parse(Next()) },
                    "-h" or "--help" => throw new OperationCanceledException(),
                    _ => throw new ArgumentException($"unknown option {args[i]}"),
                };
            }
            if (o.Sizes.Except(BenchModels.Names).FirstOrDefault() is { } bad) throw new ArgumentException($"unknown size {bad}");
            if (o.EndToEnd is { } e2e && (!BenchModels.Names.Contains(e2e) || BenchModels.IsEncoder(e2e))) throw new ArgumentException($"--end-to-end: {e2e} is not a decoder size");
            if (o.Precisions.Concat(o.PeerPrecisions).Except(["fp32", "bf16"]).FirstOrDefault() is { } badP) throw new ArgumentException($"unknown precision {badP}");
            if (o.Heads.Except(["scored", "full", "previous"]).FirstOrDefault() is { } badH) throw new ArgumentException($"unknown head path {badH}");
            if (o.PromptFraction is < 0 or >= 1) throw new ArgumentException("--prompt-fraction must be in [0, 1)");
            if (o.Steps <= TrainingBench.WarmupSteps) throw new ArgumentException($"--steps must exceed the {TrainingBench.WarmupSteps} warm-up steps");
            return o;
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine(Usage);
            return null;
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return null;
        }
    }
}
