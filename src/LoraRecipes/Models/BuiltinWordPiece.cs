using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace LoraRecipes.Models;

/// <summary>
/// The WordPiece vocabulary of <c>builtin:tiny-distilbert</c>, generated deterministically: BERT's special tokens,
/// single characters and their <c>##</c> continuations, common suffixes, then the words of an embedded English
/// corpus (movie reviews first, then the builtin BPE corpus) by descending frequency. Written as HF's
/// <c>vocab.txt</c> + <c>tokenizer_config.json</c> (uncased).
/// </summary>
public static class BuiltinWordPiece
{
    /// <summary>Bump when the generated vocabulary changes (and bump <see cref="BuiltinModels.Version"/> with it).</summary>
    public const string Version = "1";

    /// <summary>Upper bound on the vocabulary size (the corpora currently yield about 1.2k tokens).</summary>
    public const int VocabSize = 1536;

    /// <summary>BERT's special tokens; [PAD] is id 0 as <c>pad_token_id</c> says.</summary>
    public static IReadOnlyList<string> SpecialTokens { get; } = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    private static readonly string[] Suffixes =
        ["##s", "##es", "##ed", "##d", "##ing", "##ly", "##er", "##ers", "##est", "##ness", "##ful", "##less", "##able", "##ion", "##ions", "##al", "##y", "##ment", "##ity", "##ive"];

    /// <summary>The vocabulary, one token per id.</summary>
    public static IReadOnlyList<string> Build()
    {
        var vocab = new List<string>(SpecialTokens);
        var seen = new HashSet<string>(vocab, StringComparer.Ordinal);
        void Add(string token)
        {
            if (vocab.Count < VocabSize && seen.Add(token)) vocab.Add(token);
        }
        const string characters = "!\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
        foreach (char c in characters) Add(c.ToString());
        foreach (char c in characters.Where(char.IsLetterOrDigit)) Add("##" + c);
        foreach (string s in Suffixes) Add(s);
        foreach (string w in WordsByFrequency(ReviewCorpus)) Add(w);
        foreach (string w in WordsByFrequency(Tokenization.BuiltinTokenizer.ReadCorpus())) Add(w);
        return vocab;
    }

    /// <summary>Writes vocab.txt, tokenizer_config.json and special_tokens_map.json; returns the vocabulary size.</summary>
    public static int WriteTo(string folder)
    {
        var vocab = Build();
        File.WriteAllText(Path.Combine(folder, "vocab.txt"), string.Join("\n", vocab) + "\n", new UTF8Encoding(false));
        var specials = new JsonObject { ["unk_token"] = "[UNK]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["cls_token"] = "[CLS]", ["mask_token"] = "[MASK]" };
        var config = new JsonObject
        {
            ["tokenizer_class"] = "DistilBertTokenizer",
            ["do_lower_case"] = true,
            ["strip_accents"] = null,
            ["tokenize_chinese_chars"] = true,
            ["model_max_length"] = 512,
            ["clean_up_tokenization_spaces"] = true,
        };
        foreach (var (k, v) in specials) config[k] = v?.DeepClone();
        var indented = new System.Text.Json.JsonSerializerOptions { WriteIndented = true };
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), config.ToJsonString(indented));
        File.WriteAllText(Path.Combine(folder, "special_tokens_map.json"), specials.ToJsonString(indented));
        return vocab.Count;
    }

    /// <summary>Lowercase alphabetic words of two or more letters, most frequent first, ties in ordinal order.</summary>
    private static IEnumerable<string> WordsByFrequency(string text) =>
        Regex.Matches(text.ToLowerInvariant(), "[a-z]{2,}").GroupBy(m => m.Value)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key);

    /// <summary>Movie-review English written for this project, so sentiment words are whole tokens.</summary>
    internal const string ReviewCorpus = """
        This movie was great. The acting was excellent and the story was wonderful from the first scene to the last.
        I loved this film. It is a beautiful, moving and funny picture with a brilliant cast and a clever script.
        What a terrible movie. The plot was boring, the dialogue was awful and the ending made no sense at all.
        I hated every minute of it. The characters were dull, the jokes were bad and the pacing was painfully slow.
        A masterpiece. The director tells a simple story with heart, humor and real emotion. Highly recommended.
        The worst film I have seen this year. Poorly written, badly acted and far too long. Avoid it.
        The performances are strong, the music is lovely and the photography is stunning. I enjoyed it very much.
        It was a waste of time and money. Nothing happens, nobody cares, and the twist is stupid and predictable.
        A fun, charming and entertaining comedy that the whole family will enjoy. The kids laughed all the way through.
        A mess of a movie: confusing, loud and ugly. The special effects look cheap and the story is a disaster.
        One of the best films ever made. Smart, touching and unforgettable, with an amazing lead performance.
        The sequel is disappointing. It repeats the original without any of its charm, wit or energy.
        I was surprised by how good it was. The writing is sharp, the characters feel real and the ending is perfect.
        The film is mediocre at best. Some scenes work, but most of it is forgettable and the actors seem bored.
        An outstanding drama with a powerful message. The cast is superb and the story stays with you for days.
        The movie is a boring, lifeless and silly attempt at horror. It is not scary, just tedious and annoying.
        A delightful surprise: warm, witty and full of life. The two leads have wonderful chemistry together.
        The script is weak, the direction is clumsy and the editing is sloppy. I almost walked out of the theater.
        Beautifully shot and wonderfully acted, this is a fantastic film about love, loss and hope.
        The characters are shallow, the plot holes are huge and the romance is unbelievable. A complete failure.
        I would watch it again tomorrow. It is exciting, funny and moving, and the soundtrack is excellent.
        I regret watching it. The humor is crude, the story is thin and the performances are wooden and lazy.
        A brilliant thriller with great suspense, clever twists and a satisfying ending. I was on the edge of my seat.
        This is a dreadful, pointless film with no heart. The scenes drag, and the music is irritating.
        The animation is gorgeous and the voice cast is terrific. Children and adults will both love it.
        It tries hard but fails. The message is heavy handed, the acting is over the top and the jokes fall flat.
        A touching and honest story, well told and well acted. The best movie I have seen in a long time.
        A tiresome and forgettable movie. I kept checking my watch and wishing it would end.
        Critics and audiences agree: the film is a triumph, a rich and rewarding experience worth every penny.
        Unfortunately the film is a letdown. The trailer was better than the movie, and the characters are annoying.
        The story follows a young woman who returns to her family home after many years away.
        The plot follows a detective, a doctor and a teacher in a small town during one long summer.
        The director, the writer and the producer worked together on the show for three seasons before this film.
        The actor plays a father who must choose between his work and his children, and the actress plays his wife.
        Watch it with friends. Do not watch it alone at night. See it on the big screen if you can.
        The first half is slow, but the second half is gripping. Overall it is a good film, not a great one.
        The film is neither good nor bad; it is fine, and it will be liked by fans of the book.
        The movie is too long, the music is too loud and the story is too simple, but the acting is very good.
        He was not impressed. She was not amused. They were not happy with the result, and neither were we.
        I really liked it, and I think you will like it too. It was better than I expected and never boring.
        """;
}
