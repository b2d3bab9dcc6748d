using System.Text.RegularExpressions;

namespace LoraRecipes.Lora;

/// <summary>Decides which linear modules get LoRA, with PEFT's rules for <c>target_modules</c>.</summary>
/// <remarks>
/// An entry matches a module path when it equals the path or is a dotted suffix of it
/// (<c>q_proj</c> matches <c>model.layers.0.self_attn.q_proj</c>); <c>re:…</c> must match the whole
/// path; <c>all-linear</c> takes every linear layer except the output head, as PEFT does.
/// </remarks>
public sealed class TargetMatcher
{
    /// <summary>The keyword for every linear layer but the output head.</summary>
    public const string AllLinear = "all-linear";

    private readonly IReadOnlyList<string> _targets;
    private readonly IReadOnlyList<Regex> _patterns;
    private readonly bool _allLinear;
    private readonly ISet<string> _outputLayers;

    public TargetMatcher(IReadOnlyList<string> targets, IEnumerable<string>? outputLayers = null)
    {
        _allLinear = targets.Any(t => t == AllLinear);
        _targets = targets.Where(t => t != AllLinear && !t.StartsWith("re:", StringComparison.Ordinal)).ToList();
        _patterns = targets.Where(t => t.StartsWith("re:", StringComparison.Ordinal))
            .Select(t => new Regex("^(?:" + t[3..] + ")$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)))
            .ToList();
        _outputLayers = new HashSet<string>(outputLayers ?? new[] { "lm_head" });
    }

    /// <summary>True when the module at <paramref name="path"/> should be wrapped.</summary>
    public bool Matches(string path)
    {
        if (_allLinear && !_outputLayers.Contains(path)) return true;
        foreach (string t in _targets)
        {
            if (path == t || path.EndsWith("." + t, StringComparison.Ordinal)) return true;
        }
        return _patterns.Any(p => p.IsMatch(path));
    }
}
