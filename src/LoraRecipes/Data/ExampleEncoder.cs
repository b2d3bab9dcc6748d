using LoraRecipes.Tokenization;

namespace LoraRecipes.Data;

/// <summary>Token ids and labels of one example; labels are -100 where the loss ignores a position.</summary>
public sealed record TokenizedExample(int[] InputIds, int[] Labels, int RecordNumber)
{
    /// <summary>
    /// For a packed row (see <see cref="SequencePacker"/>): the lengths of the samples laid end to end, which
    /// attend only within themselves and restart their positions at 0. Null for a single sample.
    /// </summary>
    public int[]? SegmentLengths { get; init; }

    /// <summary>Positions that count in the loss.</summary>
    public int TrainedTokens => Labels.Count(l => l != ExampleEncoder.IgnoreIndex);
}

/// <summary>Formats, tokenizes and masks records: BOS (when the tokenizer adds one), prompt, response, EOS.</summary>
public sealed class ExampleEncoder(TextTokenizer tokenizer, PromptFormatter template, int maxLength, bool trainOnInputs)
{
    /// <summary>The label cross-entropy ignores (PyTorch's default ignore_index).</summary>
    public const int IgnoreIndex = -100;

    /// <summary>
    /// Encodes one record. The EOS token ends every example and is trained, so the model learns to stop. With
    /// <c>prompt_template: model</c> the chat template's text is encoded as apply_chat_template tokenizes it (no added
    /// special tokens: the template writes them) and its assistant turns, turn-end token included, are trained.
    /// </summary>
    public TokenizedExample Encode(DataRecord record)
    {
        if (template.Model is not null && record.Text is null) return EncodeChat(record);
        var ids = new List<int>();
        var labels = new List<int>();
        if (tokenizer.AddBosToken && tokenizer.BosId is { } bos) Add(bos, trained: false);
        foreach (var segment in template.Segments(record))
        {
            foreach (int id in tokenizer.Encode(segment.Text)) Add(id, segment.Trained || trainOnInputs);
        }
        if (tokenizer.EosId is { } eos && (ids.Count == 0 || ids[^1] != eos)) Add(eos, trained: true);
        if (ids.Count > maxLength)
        {
            ids.RemoveRange(maxLength, ids.Count - maxLength);
            labels.RemoveRange(maxLength, labels.Count - maxLength);
        }
        return new TokenizedExample(ids.ToArray(), labels.ToArray(), record.RecordNumber);

        void Add(int id, bool trained)
        {
            ids.Add(id);
            labels.Add(trained ? id : IgnoreIndex);
        }
    }

    private TokenizedExample EncodeChat(DataRecord record)
    {
        var chat = template.RenderChat(record);
        int[] ids = [.. tokenizer.Encode(chat.Text)];
        int[] labels = trainOnInputs ? [.. ids] : Enumerable.Repeat(IgnoreIndex, ids.Length).ToArray();
        foreach ((int start, int end) in chat.Trained)
        {
            // A character range becomes the tokens between the encodings of the text before its start and before its
            // end: prefix encodings agree with the whole one up to the boundary; a token straddling it counts as after.
            int from = CommonPrefix(tokenizer.Encode(chat.Text[..start]), ids);
            int to = CommonPrefix(tokenizer.Encode(chat.Text[..end]), ids);
            for (int j = from; j < to; j++) labels[j] = ids[j];
        }
        int n = Math.Min(ids.Length, maxLength);
        return new TokenizedExample(ids[..n], labels[..n], record.RecordNumber);
    }

    private static int CommonPrefix(IReadOnlyList<int> prefix, int[] ids)
    {
        int k = 0;
        while (k < prefix.Count && k < ids.Length && prefix[k] == ids[k]) k++;
        return k;
    }

    /// <summary>Encodes every record, dropping those left with no trained token (prompt longer than max_length).</summary>
    public (IReadOnlyList<TokenizedExample> Examples, int Dropped) EncodeAll(IEnumerable<DataRecord> records)
    {
        var kept = new List<TokenizedExample>();
        int dropped = 0;
        foreach (var r in records)
        {
            var e = Encode(r);
            if (e.TrainedTokens == 0) dropped++;
            else kept.Add(e);
        }
        return (kept, dropped);
    }
}
