using System.Text;
using System.Text.Json.Nodes;

namespace LoraRecipes.Bench;

/// <summary>The table and the JSON. MFU = achieved GFLOP/s over the same-process matmul peak of the row's precision.</summary>
internal static class Report
{
    public static string Mb(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("F0");

    /// <summary>Sequences per second: examples for a classifier, rows for a causal LM.</summary>
    private static double ExamplesPerSecond(RowResult r) => r.TokensPerSecond / r.Spec.Seq;

    private static double Gflops(RowResult r) => r.FlopsPerStep / r.Spec.Batch / r.Spec.Seq * r.TokensPerSecond / 1e9;

    /// <summary>
    /// The matmul peak MFU divides by: the higher of the run's start figure and the one measured right before the row.
    /// A burst of load during the adjacent measurement alone would otherwise inflate MFU (once past 100 %).
    /// </summary>
    private static double Peak(RowResult r, IReadOnlyDictionary<string, double> peaks) => Math.Max(r.MatmulPeak, peaks[r.Spec.Precision]);

    private static double Mfu(RowResult r, IReadOnlyDictionary<string, double> peaks) => Gflops(r) / Peak(r, peaks);

    private static string Step10(RowResult r) => r.Spec.Steps > TrainingBench.MemoryCheckStep ? Mb(r.PeakRssAtStep10) + " → " : "";

    public static string Line(RowResult r, PeerResult? peer, IReadOnlyDictionary<string, double> peaks) =>
        $"  {r.Spec.Size}/seq {r.Spec.Seq}/{r.Spec.Precision}{(r.Spec.Head == "scored" ? "" : "/head " + r.Spec.Head)}: {r.TokensPerSecond:F0} tok/s ({ExamplesPerSecond(r):F1} ex/s), {Gflops(r):F0} GFLOP/s, MFU {Mfu(r, peaks):P0}, peak {Mb(r.PeakRss)} MiB" +
        (peer is null ? "" : $"; peer {peer.TokensPerSecond:F0} tok/s ({r.TokensPerSecond / peer.TokensPerSecond:F2}×), peak {Mb(peer.PeakRss)} MiB");

    public static string Table(IReadOnlyList<(RowResult Ours, PeerResult? Peer, PeerResult? PeerFp32)> rows, IReadOnlyDictionary<string, double> peaks)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| size | params | prec | head | batch × seq | tokens/s | examples/s | data ms | fwd ms | bwd ms | optim ms | peak RSS MiB (step 10 → end) | GFLOP/s | matmul peak GFLOP/s (max of start, adjacent) | MFU | fused SDPA | peer tok/s (same prec) | ours / peer (same prec) | peer peak RSS MiB | peer fp32 tok/s | ours / peer fp32 |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var (r, peer, peerFp32) in rows)
        {
            sb.AppendLine($"| {r.Spec.Size} | {r.Parameters / 1e6:F1}M | {r.Spec.Precision} | {r.Spec.Head} | {r.Spec.Batch} × {r.Spec.Seq} | {r.TokensPerSecond:F0} | {ExamplesPerSecond(r):F1} | {r.Data * 1e3:F1} | {r.Forward * 1e3:F0} | {r.Backward * 1e3:F0} | {r.Optimizer * 1e3:F1} | " +
                $"{Step10(r)}{Mb(r.PeakRss)} | {Gflops(r):F0} | {Peak(r, peaks):F0} | {Mfu(r, peaks):P0} | {(r.FusedAttention ? "yes" : "NO")} | " +
                $"{(peer is null ? "–" : peer.TokensPerSecond.ToString("F0"))} | {(peer is null ? "–" : (r.TokensPerSecond / peer.TokensPerSecond).ToString("F2") + "×")} | {(peer is null ? "–" : Mb(peer.PeakRss))} | {(peerFp32 is null ? "–" : peerFp32.TokensPerSecond.ToString("F0"))} | " +
                $"{(peerFp32 is null ? "–" : (r.TokensPerSecond / peerFp32.TokensPerSecond).ToString("F2") + "×")} |");
        }
        return sb.ToString();
    }

    public static JsonObject Json(IReadOnlyList<(RowResult Ours, PeerResult? Peer, PeerResult? PeerFp32)> rows, IReadOnlyDictionary<string, double> peaks,
        int threads, double peakFp32End, double peakBf16End)
    {
        var array = new JsonArray();
        foreach (var (r, peer, peerFp32) in rows)
        {
            // peer_* compare with the peer at the row's precision when it ran, else with the fp32 peer (plain PyTorch's default).
            var p = peer ?? peerFp32;
            array.Add(new JsonObject
            {
                ["size"] = r.Spec.Size, ["parameters"] = r.Parameters, ["precision"] = r.Spec.Precision, ["head"] = r.Spec.Head, ["batch"] = r.Spec.Batch, ["seq"] = r.Spec.Seq,
                ["steps"] = r.Spec.Steps, ["tokens_per_s"] = Math.Round(r.TokensPerSecond, 1), ["examples_per_s"] = Math.Round(ExamplesPerSecond(r), 2),
                ["step_s"] = new JsonObject { ["data"] = r.Data, ["forward"] = r.Forward, ["backward"] = r.Backward, ["optimizer"] = r.Optimizer },
                ["peak_rss_bytes"] = r.PeakRss, ["peak_rss_at_step10_bytes"] = r.PeakRssAtStep10, ["rss_after_step10_bytes"] = r.RssAtStep10, ["rss_after_last_step_bytes"] = r.RssAtEnd, ["live_tensors_after_step10"] = r.LiveTensorsAtStep10, ["live_tensors_after_last_step"] = r.LiveTensorsAtEnd, ["memory_flat"] = r.MemoryFlat,
                ["flops_per_step"] = r.FlopsPerStep, ["gflops"] = Math.Round(Gflops(r), 1), ["peak_gflops"] = Math.Round(Peak(r, peaks), 1), ["adjacent_peak_gflops"] = Math.Round(r.MatmulPeak, 1),
                ["mfu"] = Math.Round(Mfu(r, peaks), 4), ["fused_attention"] = r.FusedAttention, ["first_loss"] = r.FirstLoss,
                ["peer_precision"] = p is null ? null : (peer is not null ? r.Spec.Precision : "fp32"),
                ["peer_tokens_per_s"] = p is null ? null : Math.Round(p.TokensPerSecond, 1),
                ["peer_ratio"] = p is null ? null : Math.Round(r.TokensPerSecond / p.TokensPerSecond, 3),
                ["peer_fp32_tokens_per_s"] = peerFp32 is null ? null : Math.Round(peerFp32.TokensPerSecond, 1),
                ["peer_fp32_ratio"] = peerFp32 is null ? null : Math.Round(r.TokensPerSecond / peerFp32.TokensPerSecond, 3),
                ["peer_step_s"] = p is null ? null : new JsonObject { ["data"] = p.Data, ["forward"] = p.Forward, ["backward"] = p.Backward, ["optimizer"] = p.Optimizer },
                ["peer_first_loss"] = p?.FirstLoss, ["peer_peak_rss_bytes"] = p?.PeakRss, ["peer_torch"] = p?.Torch,
            });
        }
        return new JsonObject
        {
            ["threads"] = threads, ["logical_cpus"] = Environment.ProcessorCount,
            ["matmul_peak_gflops"] = new JsonObject { ["fp32"] = peaks["fp32"], ["bf16"] = Finite(peaks["bf16"]), ["fp32_end"] = peakFp32End, ["bf16_end"] = Finite(peakBf16End) },
            ["rows"] = array,
        };
    }

    public static string EndToEndLine(string size, EndToEndSide ours, EndToEndSide? peer) =>
        $"  end-to-end {size}: ours {ours.WallSeconds:F1} s, {ours.SteadyTokensPerSecond:F0} tok/s steady, peak {Mb(ours.PeakRss)} MiB" +
        (peer is null ? "" : $"; peer {peer.WallSeconds:F1} s, {peer.SteadyTokensPerSecond:F0} tok/s, peak {Mb(peer.PeakRss)} MiB; " +
            $"wall {peer.WallSeconds / ours.WallSeconds:F2}×, steady {ours.SteadyTokensPerSecond / peer.SteadyTokensPerSecond:F2}×");

    public static string EndToEndTable(string size, EndToEndSide ours, EndToEndSide? peer)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"End to end ({size}, fp32, fresh processes: start → exit):");
        sb.AppendLine("| side | steps | tokens/step | wall s | steady tokens/s | peak RSS MiB |");
        sb.AppendLine("|---|---|---|---|---|---|");
        foreach (var (name, s) in new[] { ("dotnet-lora run", ours), ("PyTorch peer", peer) })
            if (s is not null) sb.AppendLine($"| {name} | {s.Steps} | {s.TokensPerStep:F0} | {s.WallSeconds:F1} | {s.SteadyTokensPerSecond:F0} | {Mb(s.PeakRss)} |");
        if (peer is not null)
            sb.AppendLine($"| ours / peer | | | {peer.WallSeconds / ours.WallSeconds:F2}× faster | {ours.SteadyTokensPerSecond / peer.SteadyTokensPerSecond:F2}× | {(double)ours.PeakRss / peer.PeakRss:F2}× |");
        return sb.ToString();
    }

    public static JsonObject EndToEndJson(string size, int steps, EndToEndSide ours, EndToEndSide? peer)
    {
        static JsonObject Side(EndToEndSide s) => new()
        {
            ["wall_s"] = Math.Round(s.WallSeconds, 2), ["steady_tokens_per_s"] = Math.Round(s.SteadyTokensPerSecond, 1), ["peak_rss_bytes"] = s.PeakRss,
            ["steps"] = s.Steps, ["tokens_per_step"] = Math.Round(s.TokensPerStep, 1),
        };
        return new JsonObject
        {
            ["size"] = size, ["steps"] = steps, ["ours"] = Side(ours), ["peer"] = peer is null ? null : Side(peer),
            ["wall_ratio"] = peer is null ? null : Math.Round(peer.WallSeconds / ours.WallSeconds, 3),
            ["steady_ratio"] = peer is null ? null : Math.Round(ours.SteadyTokensPerSecond / peer.SteadyTokensPerSecond, 3),
        };
    }

    /// <summary>Null for a peak that was not measured (NaN: no bf16 row); JSON has no NaN.</summary>
    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
