using System.Text.RegularExpressions;

namespace LoraRecipes.Tokenization;

/// <summary>A byte-level BPE vocabulary: tokens (index = id) and merges in rank order, all in the byte-level alphabet.</summary>
public sealed record BpeVocabulary(IReadOnlyList<string> Tokens, IReadOnlyList<(string Left, string Right)> Merges);

/// <summary>
/// Learns a byte-level BPE vocabulary from text, deterministically.
/// </summary>
/// <remarks>
/// Ids 0..255 are the byte characters in GPT-2 order. The text is cut into pieces by the split regex
/// (matches and the gaps between them); then, repeatedly, the adjacent pair occurring most often across
/// all pieces (overlaps counted, as HF does) is merged, ties going to the pair whose left and then right
/// token is smallest in ordinal order. A merge is applied left to right without overlap ("aaa" → "aa" "a").
/// A merge whose result is already a token reuses its id. Training stops at <c>vocabSize</c> tokens or when
/// no pair occurs <c>minFrequency</c> times.
/// </remarks>
public static class BpeTrainer
{
    /// <summary>Learns merges over <paramref name="texts"/> until the vocabulary holds <paramref name="vocabSize"/> tokens.</summary>
    public static BpeVocabulary Train(IEnumerable<string> texts, Regex split, int vocabSize, int minFrequency = 2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 256);
        ArgumentOutOfRangeException.ThrowIfLessThan(minFrequency, 1);

        var tokens = ByteLevelAlphabet.Characters.Select(c => c.ToString()).ToList();
        var ids = tokens.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i, StringComparer.Ordinal);
        (List<int>[] words, int[] counts) = CountWords(texts, split, ids);
        var state = new PairState(words, counts);
        var merges = new List<(string, string)>();

        while (tokens.Count < vocabSize)
        {
            (int Left, int Right)? best = state.Best(tokens, minFrequency);
            if (best is not { } pair) break;

            string merged = tokens[pair.Left] + tokens[pair.Right];
            if (!ids.TryGetValue(merged, out int newId))
            {
                newId = tokens.Count;
                tokens.Add(merged);
                ids[merged] = newId;
            }
            merges.Add((tokens[pair.Left], tokens[pair.Right]));
            state.Merge(pair, newId);
        }
        return new BpeVocabulary(tokens, merges);
    }

    /// <summary>Distinct pieces as byte-id sequences, in ordinal order, with their counts.</summary>
    private static (List<int>[], int[]) CountWords(IEnumerable<string> texts, Regex split, Dictionary<string, int> ids)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string text in texts)
        {
            int start = 0;
            for (Match m = split.Match(text); m.Success; m = m.NextMatch())
            {
                if (m.Index > start) Count(text[start..m.Index]);
                if (m.Length > 0) Count(m.Value);
                start = m.Index + m.Length;
            }
            if (start < text.Length) Count(text[start..]);
        }

        var ordered = counts.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray();
        List<int>[] words = ordered.Select(kv => kv.Key.Select(c => ids[c.ToString()]).ToList()).ToArray();
        return (words, ordered.Select(kv => kv.Value).ToArray());

        void Count(string piece)
        {
            string bytes = ByteLevelAlphabet.Encode(piece);
            counts[bytes] = counts.GetValueOrDefault(bytes) + 1;
        }
    }

    /// <summary>Pair occurrence counts over all words, kept up to date as merges rewrite the words that hold them.</summary>
    private sealed class PairState
    {
        private readonly List<int>[] _words;
        private readonly int[] _counts;
        private readonly Dictionary<(int, int), int> _pairCounts = [];
        private readonly Dictionary<(int, int), HashSet<int>> _pairWords = [];

        public PairState(List<int>[] words, int[] counts)
        {
            _words = words;
            _counts = counts;
            for (int w = 0; w < words.Length; w++) AddPairs(w);
        }

        /// <summary>Most frequent pair; ties to the smallest (left, right) token strings in ordinal order.</summary>
        public (int, int)? Best(List<string> tokens, int minFrequency)
        {
            (int, int)? best = null;
            int bestCount = minFrequency - 1;
            foreach (((int left, int right) pair, int count) in _pairCounts)
            {
                if (count < bestCount) continue;
                if (count == bestCount)
                {
                    if (best is not { } b) continue;
                    int byLeft = string.CompareOrdinal(tokens[pair.left], tokens[b.Item1]);
                    if (byLeft > 0 || (byLeft == 0 && string.CompareOrdinal(tokens[pair.right], tokens[b.Item2]) >= 0)) continue;
                }
                best = pair;
                bestCount = count;
            }
            return best;
        }

        public void Merge((int Left, int Right) pair, int newId)
        {
            foreach (int w in _pairWords[pair].ToArray())
            {
                RemovePairs(w);
                List<int> word = _words[w];
                int write = 0;
                for (int read = 0; read < word.Count; read++)
                {
                    if (read + 1 < word.Count && word[read] == pair.Left && word[read + 1] == pair.Right)
                    {
                        word[write++] = newId;
                        read++;
                    }
                    else
                    {
                        word[write++] = word[read];
                    }
                }
                word.RemoveRange(write, word.Count - write);
                AddPairs(w);
            }
        }

        private void AddPairs(int w)
        {
            List<int> word = _words[w];
            for (int i = 0; i + 1 < word.Count; i++)
            {
                (int, int) pair = (word[i], word[i + 1]);
                _pairCounts[pair] = _pairCounts.GetValueOrDefault(pair) + _counts[w];
                if (!_pairWords.TryGetValue(pair, out HashSet<int>? holders)) _pairWords[pair] = holders = [];
                holders.Add(w);
            }
        }

        private void RemovePairs(int w)
        {
            List<int> word = _words[w];
            for (int i = 0; i + 1 < word.Count; i++)
            {
                (int, int) pair = (word[i], word[i + 1]);
                int left = _pairCounts[pair] - _counts[w];
                if (left == 0)
                {
                    _pairCounts.Remove(pair);
                    _pairWords.Remove(pair);
                }
                else
                {
                    _pairCounts[pair] = left;
                    _pairWords[pair].Remove(w);
                }
            }
        }
    }
}
