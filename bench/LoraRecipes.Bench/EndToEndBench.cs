using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Bench;

/// <summary>What one fresh process of the end-to-end row measured.</summary>
/// <param name="WallSeconds">Process start to exit.</param>
/// <param name="SteadyTokensPerSecond">Median over the steps after the 2 warm-up steps of tokens / step seconds.</param>
/// <param name="PeakRss">VmHWM of the process, polled every 20 ms from /proc/&lt;pid&gt;/status until it exits.</param>
internal sealed record EndToEndSide(double WallSeconds, double SteadyTokensPerSecond, long PeakRss, double TokensPerStep, int Steps);

/// <summary>
/// The end-to-end row: <c>dotnet-lora run</c> on a generated recipe (text data, packing, LoRA r 8 on q,v, fp32, batch 8,
/// max_length 256, N steps, evaluation before and after, the end checkpoint and the artifacts), against
/// <c>bench/peer/e2e_peer.py</c> doing the same work in plain PyTorch; each a fresh process, timed from start to
/// exit, with its peak RSS. The user's number is this row's.
/// </summary>
internal static class EndToEndBench
{
    public const int Batch = 8, MaxLength = 256, Records = 900;

    public static (EndToEndSide Ours, EndToEndSide? Peer) Run(string size, int steps, int threads, string cache, string? python, int rounds = 1)
    {
        string model = BenchModels.Materialize(size, cache);
        string work = Path.Combine(cache, $"e2e-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            var records = Texts(Records);
            File.WriteAllLines(Path.Combine(work, "train.jsonl"), records.Select(t => JsonSerializer.Serialize(new { text = t })));
            // The recipe a user writes for this: 5 % held out, evaluated at step 0 and at the end (evaluation.every: epoch
            // with max_steps inside the first epoch), one checkpoint and the artifacts at the end.
            File.WriteAllText(Path.Combine(work, "e2e.yaml"), string.Create(CultureInfo.InvariantCulture, $"""
                name: e2e-bench
                base_model: {model}
                task: causal-lm
                data:
                  train: train.jsonl
                  format: text
                  validation_split: 0.05
                  max_length: {MaxLength}
                  packing: true
                lora:
                  r: 8
                  alpha: 16
                  dropout: 0.0
                  target_modules: [q_proj, v_proj]
                training:
                  max_steps: {steps}
                  batch_size: {Batch}
                  precision: fp32
                  threads: {threads}
                  device: cpu
                output:
                  dir: out
                """));
            // The peer reads token ids: Debian's python3 has no tokenizers package (its data time excludes tokenising).
            var tokenizer = TextTokenizer.Load(model);
            var ids = records.Select(t => Encode(tokenizer, t)).ToList();
            int validation = (int)Math.Round(records.Count * 0.05);
            var peerData = new JsonObject { ["train"] = ToJson(ids.Skip(validation)), ["validation"] = ToJson(ids.Take(validation)) };
            File.WriteAllText(Path.Combine(work, "peer-data.json"), peerData.ToJsonString());

            string cli = FindCli();
            EndToEndSide? ours = null, peer = null;
            for (int round = 0; round < rounds; round++)
            {
                // Alternated rounds: both sides see the machine's load drift; the faster round of each is kept.
                var o = RunOurs(cli, work, threads);
                ours = ours is null || o.WallSeconds < ours.WallSeconds ? o : ours;
                if (python is null) continue;
                var p = RunPeer(python, model, work, steps, threads);
                peer = peer is null || p.WallSeconds < peer.WallSeconds ? p : peer;
            }
            return (ours!, peer);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static EndToEndSide RunOurs(string cli, string work, int threads)
    {
        string output = Path.Combine(work, "out");
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = work };
        foreach (string a in new[] { cli, "run", "e2e.yaml" }) info.ArgumentList.Add(a);
        var (wall, peak, _) = Timed(info, threads);
        // metrics.jsonl: cumulative tokens and tokens/s after each step, so step k took tokens_k/tps_k − tokens_{k−1}/tps_{k−1}.
        var train = File.ReadLines(Path.Combine(output, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).Where(n => (string?)n["type"] == "train")
            .Select(n => ((double)n["tokens"]!, (double)n["tokens_per_s"]!)).ToList();
        var perStep = new List<(double Tokens, double Seconds)>();
        for (int k = 0; k < train.Count; k++)
        {
            double before = k == 0 ? 0 : train[k - 1].Item1 / train[k - 1].Item2;
            perStep.Add((train[k].Item1 - (k == 0 ? 0 : train[k - 1].Item1), train[k].Item1 / train[k].Item2 - before));
        }
        return Side(wall, peak, perStep);
    }

    private static EndToEndSide RunPeer(string python, string model, string work, int steps, int threads)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "peer", "e2e_peer.py");
        string output = Path.Combine(work, "peer-out");
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        var info = new ProcessStartInfo(python) { WorkingDirectory = work };
        foreach (string a in new[] { script, "--model", model, "--data", Path.Combine(work, "peer-data.json"), "--out", output, "--steps", steps.ToString(CultureInfo.InvariantCulture),
            "--batch", Batch.ToString(CultureInfo.InvariantCulture), "--max-length", MaxLength.ToString(CultureInfo.InvariantCulture), "--threads", threads.ToString(CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        var (wall, peak, stdout) = Timed(info, threads);
        var json = JsonNode.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.TrimStart().StartsWith('{')))!;
        var perStep = json["steps"]!.AsArray().Select(s => ((double)s!["tokens"]!, (double)s["seconds"]!)).ToList();
        return Side(wall, peak, perStep);
    }

    private static EndToEndSide Side(double wall, long peak, List<(double Tokens, double Seconds)> perStep)
    {
        var timed = perStep.Skip(TrainingBench.WarmupSteps).Select(s => s.Tokens / s.Seconds).OrderBy(v => v).ToList();
        double steady = timed.Count == 0 ? double.NaN : timed[timed.Count / 2];
        return new EndToEndSide(wall, steady, peak, perStep.Average(s => s.Tokens), perStep.Count);
    }

    /// <summary>Runs a process to its exit: wall seconds, peak RSS (VmHWM polled every 20 ms), stdout.</summary>
    private static (double Wall, long PeakRss, string Stdout) Timed(ProcessStartInfo info, int threads)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        info.Environment["OMP_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        info.Environment["OPENBLAS_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        long peak = 0;
        string status = $"/proc/{p.Id}/status";
        while (!p.HasExited)
        {
            try
            {
                foreach (string line in File.ReadLines(status))
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                        peak = Math.Max(peak, long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024);
            }
            catch (IOException) { }   // exited between the check and the read
            Thread.Sleep(20);
        }
        p.WaitForExit();
        double wall = sw.Elapsed.TotalSeconds;
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{info.FileName} {string.Join(' ', info.ArgumentList)} exited with {p.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        return (wall, peak, stdout.Result);
    }

    /// <summary>The CLI next to this repository's sources (built here when missing): src/LoraRecipes.Cli/bin/Release/net10.0/dotnet-lora.dll.</summary>
    private static string FindCli()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string project = Path.Combine(dir.FullName, "src", "LoraRecipes.Cli");
            if (!Directory.Exists(project)) continue;
            string dll = Path.Combine(project, "bin", "Release", "net10.0", "dotnet-lora.dll");
            if (!File.Exists(dll))
            {
                Console.WriteLine($"end-to-end: building {project} (Release) …");
                using var build = Process.Start("dotnet", ["build", project, "-c", "Release", "-v", "q"])!;
                build.WaitForExit();
            }
            return File.Exists(dll) ? dll : throw new InvalidOperationException($"end-to-end: {dll} is missing; run dotnet build src/LoraRecipes.Cli -c Release");
        }
        throw new InvalidOperationException("end-to-end: src/LoraRecipes.Cli not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The ids the trainer trains on for a text record: BOS (when the tokenizer adds one), the text, EOS; cut at max_length.</summary>
    private static int[] Encode(TextTokenizer tokenizer, string text)
    {
        var ids = new List<int>();
        if (tokenizer.AddBosToken && tokenizer.BosId is { } bos) ids.Add(bos);
        ids.AddRange(tokenizer.Encode(text));
        if (tokenizer.EosId is { } eos) ids.Add(eos);
        return ids.Take(MaxLength).ToArray();
    }

    private static JsonArray ToJson(IEnumerable<int[]> examples) => new(examples.Select(e => (JsonNode)new JsonArray(e.Select(i => (JsonNode)i).ToArray())).ToArray());

    /// <summary>Deterministic English-like records of 15–170 words (so packing has work to do).</summary>
    private static List<string> Texts(int count)
    {
        string[] words = ("the patient doctor heart blood pressure high low treatment should take daily medicine rest water sleep " +
            "symptoms include pain fever cough and or with without after before morning evening a of to in is are was were be " +
            "can may will not very more less often rarely common disease condition care health body system test result normal " +
            "increase decrease risk factor diet exercise weight age year month week day hospital clinic nurse visit check").Split(' ');
        var random = new Random(1234);
        var list = new List<string>(count);
        for (int r = 0; r < count; r++)
        {
            var sb = new StringBuilder();
            int n = random.Next(15, 170);
            for (int w = 0; w < n; w++)
            {
                if (w > 0) sb.Append(w % 12 == 11 ? ". " : " ");
                sb.Append(words[random.Next(words.Length)]);
            }
            list.Add(sb.Append('.').ToString());
        }
        return list;
    }
}
