namespace LoraRecipes.Recipes.Schema;

/// <summary>Did-you-mean: the closest candidate by Damerau–Levenshtein distance (≤ 2), else a prefix match.</summary>
internal static class Suggestions
{
    /// <summary>The best candidate for <paramref name="typed"/>, or null when none is close.</summary>
    public static string? Closest(string typed, IEnumerable<string> candidates)
    {
        var list = candidates.ToList();
        var best = list
            .Select(c => (Candidate: c, Distance: Distance(typed.ToLowerInvariant(), c.ToLowerInvariant())))
            .Where(x => x.Distance <= 2 && x.Distance < Math.Max(typed.Length, x.Candidate.Length))
            .OrderBy(x => x.Distance)
            .FirstOrDefault();
        if (best.Candidate is not null)
        {
            return best.Candidate;
        }

        // "rank" → "r", "target" → "target_modules": one is a prefix of the other.
        return list
            .Where(c => typed.Length > 0 && (c.StartsWith(typed, StringComparison.OrdinalIgnoreCase) || typed.StartsWith(c, StringComparison.OrdinalIgnoreCase)))
            .OrderBy(c => Math.Abs(c.Length - typed.Length))
            .FirstOrDefault();
    }

    /// <summary>" Did you mean 'x'?" or "".</summary>
    public static string DidYouMean(string typed, IEnumerable<string> candidates) =>
        Closest(typed, candidates) is { } match ? $"Did you mean '{match}'? " : "";

    /// <summary>Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps.</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
