using LoraRecipes.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace LoraRecipes.Data;

/// <summary>
/// The classes of a classification run, by id: what HF calls <c>id2label</c> (and, inverted, <c>label2id</c>).
/// </summary>
/// <remarks>
/// Derived from the data: with class names, the base model's <c>id2label</c> when it names every label in the
/// data (a fine-tuned head keeps its ids), else the distinct names sorted ordinally; with integer labels, ids
/// 0..max named by the model's <c>id2label</c> when it has that many entries, else <c>LABEL_i</c>.
/// </remarks>
public sealed class LabelSet
{
    private readonly Dictionary<string, int> _ids;

    public LabelSet(IReadOnlyList<string> names)
    {
        if (names.Count < 1) throw new ArgumentException("a label set needs at least one label.", nameof(names));
        Names = names;
        _ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++) _ids.TryAdd(names[i], i);
    }

    /// <summary>Class names by id (<c>id2label</c>).</summary>
    public IReadOnlyList<string> Names { get; }

    public int Count => Names.Count;

    /// <summary>The id of a record's label, or null when it is not one of these classes.</summary>
    public int? IdOf(DataRecord record) =>
        record.LabelId is { } id ? (id < Count ? id : null) : _ids.TryGetValue(record.Label ?? "", out int byName) ? byName : null;

    /// <summary>The labels of <paramref name="records"/> resolved against the model's <c>id2label</c> (see the remarks).</summary>
    /// <exception cref="DataFormatException">Integer and string labels are mixed, or there is only one class.</exception>
    public static LabelSet FromData(string path, IReadOnlyList<DataRecord> records, IReadOnlyList<string> modelLabels)
    {
        var byId = records.Where(r => r.LabelId is not null).ToList();
        var byName = records.Where(r => r.LabelId is null).ToList();
        if (byId.Count > 0 && byName.Count > 0)
        {
            var odd = byId.Count < byName.Count ? byId[0] : byName[0];
            throw new DataFormatException(path, odd.RecordNumber, odd.Line, $"label '{odd.Label}' mixes integer ids and class names in one data set.",
                "Use class names everywhere (\"positive\") or integer ids everywhere (1).");
        }
        if (byId.Count > 0)
        {
            int n = byId.Max(r => r.LabelId!.Value) + 1;
            if (n > 100_000) throw new DataFormatException(path, null, null, $"label id {n - 1} is too large (at most 99999).");
            return new LabelSet(modelLabels.Count == n ? modelLabels : Enumerable.Range(0, n).Select(i => $"LABEL_{i}").ToArray());
        }
        var distinct = byName.Select(r => r.Label!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (distinct.All(modelLabels.Contains)) return new LabelSet(modelLabels);
        return new LabelSet(distinct);
    }
}

/// <summary>
/// Classification records tokenized for an encoder or decoder classifier. A classification example reuses
/// <see cref="TokenizedExample"/>: <c>InputIds</c> is the text as the tokenizer encodes it by default
/// (<c>[CLS] … [SEP]</c> for BERT), <c>Labels</c> holds one element, the class id.
/// </summary>
public static class ClassificationData
{
    /// <summary>The class id of a classification example.</summary>
    public static int ClassOf(TokenizedExample e) => e.Labels[0];

    /// <summary>Encodes every record; a label outside <paramref name="labels"/> is an error naming the record.</summary>
    public static IReadOnlyList<TokenizedExample> Encode(string path, IEnumerable<DataRecord> records, TextTokenizer tokenizer, LabelSet labels, int maxLength)
    {
        var examples = new List<TokenizedExample>();
        foreach (var r in records)
        {
            int id = labels.IdOf(r) ?? throw new DataFormatException(path, r.RecordNumber, r.Line,
                $"label '{r.Label}' is not one of the classes [{string.Join(", ", labels.Names)}].",
                "Every label of the validation/evaluation data must occur in the training labels (or the adapter's id2label).");
            examples.Add(new TokenizedExample(EncodeText(tokenizer, r.Text ?? "", maxLength), [id], r.RecordNumber));
        }
        return examples;
    }

    /// <summary>
    /// The text as the tokenizer encodes it by default, cut to the first <paramref name="maxLength"/> tokens; when
    /// the tokenizer ends sequences with a special token ([SEP], EOS), that token stays last, as HF's truncation keeps it.
    /// </summary>
    public static int[] EncodeText(TextTokenizer tokenizer, string text, int maxLength)
    {
        var ids = tokenizer.Encode(text, addSpecialTokens: true);
        if (ids.Count <= maxLength) return ids.ToArray();
        var kept = ids.Take(maxLength).ToArray();
        if (ids.Count > 0 && tokenizer.SpecialIds.Contains(ids[^1])) kept[^1] = ids[^1];
        return kept;
    }

    /// <summary>Right-pads a batch: ids and mask (B, T) int64 (mask 1 on tokens), class ids (B) int64.</summary>
    public static (Tensor Ids, Tensor Mask, Tensor Labels) Collate(IReadOnlyList<TokenizedExample> examples, int padId, Device? device = null)
    {
        int b = examples.Count, t = examples.Max(e => e.InputIds.Length);
        var ids = new long[b * t];
        var mask = new long[b * t];
        var labels = new long[b];
        Array.Fill(ids, padId);
        for (int i = 0; i < b; i++)
        {
            var e = examples[i];
            for (int j = 0; j < e.InputIds.Length; j++)
            {
                ids[i * t + j] = e.InputIds[j];
                mask[i * t + j] = 1;
            }
            labels[i] = ClassOf(e);
        }
        var target = device is not null && device.type != DeviceType.CPU ? device : null;
        Tensor Make(long[] data, long[] shape)
        {
            var x = tensor(data, shape, ScalarType.Int64);
            return target is null ? x : x.to(target);
        }
        return (Make(ids, [b, t]), Make(mask, [b, t]), Make(labels, [b]));
    }
}
