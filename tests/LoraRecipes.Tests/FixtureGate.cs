namespace LoraRecipes.Tests;

/// <summary>
/// The one rule for tests that need fixtures installed by a fetch script: locally they are skipped, saying how to
/// install them; in CI (environment variable CI = "true") they are not skipped, and fail naming what is missing.
/// </summary>
internal static class FixtureGate
{
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>What a fact's Skip should be: the reason locally, null in CI (the test then fails in <see cref="Require"/>).</summary>
    public static string? SkipReason(string? missing) => InCi ? null : missing;

    /// <summary>Fails the test when fixtures are missing (reached only in CI, where nothing is skipped).</summary>
    public static void Require(string? missing)
    {
        if (missing is not null) Assert.Fail($"CI=true and the fixtures are missing: {missing}");
    }
}
