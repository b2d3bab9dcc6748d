using System.Diagnostics;
using System.Text.Json.Nodes;

namespace LoraRecipes.Bench;

/// <summary>What the PyTorch peer measured on the same model and batch.</summary>
internal sealed record PeerResult(double FirstLoss, double TokensPerSecond, double Data, double Forward, double Backward, double Optimizer, long PeakRss, string Torch);

/// <summary>Runs bench/peer/lora_peer.py with Debian's python3-torch, one row at a time (never beside our own run).</summary>
internal sealed class PeerRunner(string python, string script)
{
    /// <summary>The python that runs the peers.</summary>
    public string Python => python;

    /// <summary>Null with a reason when the peer cannot run here (no python3 with torch).</summary>
    public static (PeerRunner? Runner, string? Skip) Find(string? python)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "peer", "lora_peer.py");
        if (!File.Exists(script)) return (null, $"peer skipped: {script} is missing");
        string exe = python ?? (File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
        var (code, output) = Execute(exe, ["-c", "import torch; print(torch.__version__)"], TimeSpan.FromMinutes(1));
        if (code != 0)
            return (null, $"peer skipped: {exe} cannot import torch. Install Debian's PyTorch and OpenBLAS: " +
                "apt-get install -y python3-torch libopenblas0-pthread (or pass --python PATH, or --no-peer).");
        return (new PeerRunner(exe, script), null);
    }

    public PeerResult Run(RowSpec spec, string batchFile, int threads)
    {
        string[] args =
        [
            script, "--model", spec.Folder, "--batch", batchFile, "--steps", spec.Steps.ToString(), "--warmup", TrainingBench.WarmupSteps.ToString(),
            "--precision", spec.Precision, "--rank", spec.Rank.ToString(), "--alpha", spec.Alpha.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--targets", string.Join(",", spec.Targets), "--threads", threads.ToString(),
        ];
        var (code, output) = Execute(python, args, TimeSpan.FromMinutes(30), threads);
        if (code != 0) throw new InvalidOperationException($"peer failed (exit {code}):\n{output}");
        var json = JsonNode.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.TrimStart().StartsWith('{')))!;
        var step = json["step_s"]!;
        return new PeerResult((double)json["first_loss"]!, (double)json["tokens_per_s"]!, (double)step["data"]!, (double)step["forward"]!,
            (double)step["backward"]!, (double)step["optimizer"]!, (long)(double)json["peak_rss_bytes"]!, (string)json["torch"]!);
    }

    /// <summary>Starts the peer in lock-step mode on this row's model and batch; each <see cref="PeerSession.Step"/> runs one step.</summary>
    /// <remarks>With <paramref name="classify"/>, the peer builds a BERT classifier (LoRA + full head) instead of the Llama decoder.</remarks>
    public PeerSession Start(RowSpec spec, string batchFile, int threads, bool classify = false)
    {
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[]
        {
            script, "--serve", "--model", spec.Folder, "--batch", batchFile, "--precision", spec.Precision, "--rank", spec.Rank.ToString(),
            "--alpha", spec.Alpha.ToString(System.Globalization.CultureInfo.InvariantCulture), "--targets", string.Join(",", spec.Targets), "--threads", threads.ToString(),
        }) info.ArgumentList.Add(a);
        if (classify) info.ArgumentList.Add("--classify");
        info.Environment["OMP_NUM_THREADS"] = threads.ToString();
        info.Environment["OPENBLAS_NUM_THREADS"] = threads.ToString();
        var process = Process.Start(info)!;
        var session = new PeerSession(process);
        var ready = session.ReadLine();
        return session with { Torch = (string?)ready["torch"] ?? "?" };
    }

    private static (int Code, string Output) Execute(string exe, string[] args, TimeSpan timeout, int threads = 0)
    {
        var info = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) info.ArgumentList.Add(a);
        if (threads > 0)
        {
            // OpenBLAS and OpenMP pools sized like ours: one thread per physical core.
            info.Environment["OMP_NUM_THREADS"] = threads.ToString();
            info.Environment["OPENBLAS_NUM_THREADS"] = threads.ToString();
        }
        try
        {
            using var p = Process.Start(info)!;
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(timeout))
            {
                p.Kill(entireProcessTree: true);
                return (-1, "timed out");
            }
            return (p.ExitCode, stdout + stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}

/// <summary>A peer process answering one training step per request.</summary>
internal sealed record PeerSession(Process Process) : IDisposable
{
    public string Torch { get; init; } = "?";
    public long PeakRss { get; private set; }

    /// <summary>One step: (loss, data, forward, backward, optimizer seconds).</summary>
    public (double Loss, double[] Phases) Step()
    {
        Process.StandardInput.WriteLine("step");
        Process.StandardInput.Flush();
        var json = ReadLine();
        var s = json["step_s"]!;
        PeakRss = (long)(double)json["peak_rss_bytes"]!;
        return ((double)json["loss"]!, [(double)s["data"]!, (double)s["forward"]!, (double)s["backward"]!, (double)s["optimizer"]!]);
    }

    internal JsonNode ReadLine()
    {
        while (Process.StandardOutput.ReadLine() is { } line)
            if (line.TrimStart().StartsWith('{')) return JsonNode.Parse(line)!;
        throw new InvalidOperationException("the peer exited: " + Process.StandardError.ReadToEnd());
    }

    public void Dispose()
    {
        try
        {
            Process.StandardInput.Close();
            if (!Process.WaitForExit(10_000)) Process.Kill(entireProcessTree: true);
        }
        finally
        {
            Process.Dispose();
        }
    }
}
