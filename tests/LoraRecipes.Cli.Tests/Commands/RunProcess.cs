using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary>
/// <c>dotnet dotnet-lora.dll …</c> as a child process (the tool built beside this test assembly), so tests can kill it
/// (SIGKILL), signal it (SIGINT/SIGTERM) and limit it as a user's shell would.
/// </summary>
internal sealed class RunProcess : IDisposable
{
    public const int SIGINT = 2, SIGTERM = 15, SIGCONT = 18, SIGSTOP = 19;
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private RunProcess(ProcessStartInfo info)
    {
        info.RedirectStandardOutput = info.RedirectStandardError = true;
        info.UseShellExecute = false;
        _process = new Process { StartInfo = info };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static string ToolDll => Path.Combine(AppContext.BaseDirectory, "dotnet-lora.dll");

    private static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>Starts <c>dotnet lora &lt;args&gt;</c> in <paramref name="workingDirectory"/>.</summary>
    public static RunProcess Start(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo(DotnetHost) { WorkingDirectory = workingDirectory };
        info.ArgumentList.Add(ToolDll);
        foreach (string a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        return new RunProcess(info);
    }

    /// <summary>Starts it under <c>ulimit -f</c> (KiB): writes past the limit fail with EFBIG, as on a full disk (SIGXFSZ ignored).</summary>
    public static RunProcess StartWithFileSizeLimit(string workingDirectory, int kibibytes, params string[] args)
    {
        var info = new ProcessStartInfo("/bin/bash") { WorkingDirectory = workingDirectory };
        // The runtime's W^X double mapping sizes a shared-memory file, which the limit would refuse at startup.
        info.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"trap '' XFSZ; ulimit -f {kibibytes}; exec \"$0\" \"$@\"");
        info.ArgumentList.Add(DotnetHost);
        info.ArgumentList.Add(ToolDll);
        foreach (string a in args) info.ArgumentList.Add(a);
        return new RunProcess(info);
    }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>Waits until the output contains <paramref name="text"/>; fails (with the output) after the timeout or if the process exits first.</summary>
    public void WaitFor(string text, int timeoutSeconds = 120)
    {
        var clock = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited && !Output.Contains(text, StringComparison.Ordinal))
            {
                _process.WaitForExit();   // drain the output events
                if (Output.Contains(text, StringComparison.Ordinal)) return;
                Assert.Fail($"exited ({_process.ExitCode}) before printing '{text}':\n{Output}");
            }
            if (clock.Elapsed.TotalSeconds > timeoutSeconds) Assert.Fail($"no '{text}' after {timeoutSeconds} s:\n{Output}");
            Thread.Sleep(5);
        }
    }

    /// <summary>SIGKILL: no handler, no cleanup, no flush.</summary>
    public void KillHard()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public void Signal(int signal) => Assert.Equal(0, kill(_process.Id, signal));

    public int WaitForExit(int timeoutSeconds = 180)
    {
        if (!_process.WaitForExit(timeoutSeconds * 1000))
        {
            _process.Kill();
            Assert.Fail($"still running after {timeoutSeconds} s:\n{Output}");
        }
        _process.WaitForExit();
        return _process.ExitCode;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.Append(line).Append('\n');
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.Dispose();
    }
}
