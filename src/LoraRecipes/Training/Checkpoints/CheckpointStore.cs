using System.Globalization;
using System.Security.Cryptography;
using LoraRecipes.IO;
using static TorchSharp.torch;

namespace LoraRecipes.Training.Checkpoints;

/// <summary>
/// <c>&lt;output&gt;/checkpoints/step-NNNNNNNN/</c> folders, each a complete resumable state: <c>state.safetensors</c>
/// (LoRA weights under their parameter names, AdamW moments as <c>optimizer.&lt;name&gt;.exp_avg|exp_avg_sq</c>) and
/// <c>state.json</c> (<see cref="CheckpointState"/>). The newest <see cref="KeepLast"/> are kept.
/// </summary>
/// <remarks>
/// Crash safety: a checkpoint is written into a hidden temp folder (each file fsynced) and renamed into place, so a
/// <c>step-*</c> folder is always complete; a killed write leaves only a <c>.step-*.tmp</c> folder, which readers skip
/// and the next save removes. Older checkpoints are deleted only after the new one is in place.
/// </remarks>
public sealed class CheckpointStore
{
    public const string FolderName = "checkpoints";
    public const string TensorsFile = "state.safetensors";
    public const string StateFile = "state.json";
    /// <summary>Prefix of the tensors of AdamW's moments in <see cref="TensorsFile"/>.</summary>
    public const string OptimizerPrefix = "optimizer.";
    private const string Prefix = "step-";

    /// <summary>Checkpoint folders of this run (written, or adopted on resume); any other one is an earlier run's.</summary>
    private readonly HashSet<string> _ours = new(StringComparer.Ordinal);

    /// <param name="outputDirectory">The run's artifact folder.</param>
    /// <param name="keepLast">How many checkpoints to keep (≥ 1).</param>
    public CheckpointStore(string outputDirectory, int keepLast = 2)
    {
        Folder = Path.Combine(outputDirectory, FolderName);
        KeepLast = Math.Max(1, keepLast);
    }

    public string Folder { get; }
    public int KeepLast { get; }

    /// <summary>
    /// Marks the existing checkpoints as this run's (a resume): they are pruned like new ones. Otherwise the first
    /// successful <see cref="Save"/> of a fresh run removes every checkpoint an earlier run left.
    /// </summary>
    public void Adopt() => _ours.UnionWith(List());

    /// <summary>Complete checkpoints on disk, newest first.</summary>
    public IReadOnlyList<string> List()
    {
        if (!Directory.Exists(Folder)) return [];
        return Directory.GetDirectories(Folder, Prefix + "*")
            .Select(d => (Dir: d, Step: StepOf(d)))
            .Where(d => d.Step >= 0 && File.Exists(Path.Combine(d.Dir, StateFile)) && File.Exists(Path.Combine(d.Dir, TensorsFile)))
            .OrderByDescending(d => d.Step)
            .Select(d => d.Dir)
            .ToList();
    }

    /// <summary>The newest checkpoint and its state, or null when there is none.</summary>
    public (string Folder, CheckpointState State)? Latest()
    {
        string? dir = List().FirstOrDefault();
        if (dir is null) return null;
        string path = Path.Combine(dir, StateFile);
        return (dir, CheckpointState.Parse(path, File.ReadAllText(path)));
    }

    /// <summary>Writes a checkpoint atomically and prunes old ones; returns its folder.</summary>
    public string Save(CheckpointState state, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        Directory.CreateDirectory(Folder);
        foreach (string stale in Directory.GetDirectories(Folder, "." + Prefix + "*.tmp")) TryDelete(stale);

        string name = Prefix + state.Step.ToString("D8", CultureInfo.InvariantCulture);
        string final = Path.Combine(Folder, name);
        string temp = Path.Combine(Folder, $".{name}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            SafetensorsWriter.Write(Path.Combine(temp, TensorsFile), tensors,
                new Dictionary<string, string> { ["format"] = "lora-recipes-checkpoint", ["format_version"] = state.FormatVersion.ToString(CultureInfo.InvariantCulture) });
            AtomicFile.WriteAllText(Path.Combine(temp, StateFile), state.ToJson());
            if (Directory.Exists(final))
            {
                // The same step saved again (an epoch end after a resume at that boundary): swap, keeping the old one until the new one is in place.
                string aside = temp + ".old.tmp";
                Directory.Move(final, aside);
                Directory.Move(temp, final);
                TryDelete(aside);
            }
            else
            {
                Directory.Move(temp, final);
            }
            _ = AtomicFile.FlushDirectory(Folder);   // the checkpoint's name survives a power loss, not only its contents
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        // Only now that the new one is complete: drop the oldest of ours and everything an earlier run left.
        _ours.Add(final);
        var keep = List().Where(_ours.Contains).Take(KeepLast).ToHashSet(StringComparer.Ordinal);
        foreach (string old in List().Where(d => !keep.Contains(d))) TryDelete(old);
        return final;
    }

    /// <summary>The step number in a <c>step-NNNNNNNN</c> folder name, or −1.</summary>
    public static int StepOf(string folder) =>
        Path.GetFileName(folder) is { } n && n.StartsWith(Prefix, StringComparison.Ordinal)
        && int.TryParse(n.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int step) ? step : -1;

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
