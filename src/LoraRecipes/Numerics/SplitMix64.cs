namespace LoraRecipes.Numerics;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, well-mixed 64-bit generator that gives the same sequence on every
/// machine. The data split and shuffle and the builtin models' weights draw from it; it sits in the bottom layer so
/// both can use it without one depending on the other.
/// </summary>
public static class SplitMix64
{
    /// <summary>Advances <paramref name="state"/> and returns the next 64 random bits.</summary>
    public static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
