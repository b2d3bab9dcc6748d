using LoraRecipes.Data;

namespace LoraRecipes.Tests.Data;

public sealed class ClassificationDataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lora-cls-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Reads_text_and_label_from_JSONL_JSON_and_CSV()
    {
        var jsonl = DataReader.Read(File("a.jsonl", "{\"text\": \"great\", \"label\": \"positive\"}\n\n{\"text\": \"bad\", \"label\": 0}\n"), "classification");
        Assert.Equal(("great", "positive", (int?)null, 1), (jsonl[0].Text, jsonl[0].Label, jsonl[0].LabelId, jsonl[0].Line));
        Assert.Equal(("bad", "0", (int?)0, 3), (jsonl[1].Text, jsonl[1].Label, jsonl[1].LabelId, jsonl[1].Line));

        var json = DataReader.Read(File("a.json", "[\n {\"text\": \"x\", \"label\": \"neg\"}\n]"), "classification");
        Assert.Equal("neg", json[0].Label);

        // RFC 4180: any column order, extra columns ignored, quoted commas, doubled quotes and line breaks, CRLF.
        var csv = DataReader.Read(File("a.csv", "id,Label,text\r\n1,positive,\"Loved it, truly\"\r\n2,negative,\"He said \"\"meh\"\"\nand left\"\r\n3,1,plain\r\n"), "classification");
        Assert.Equal(3, csv.Count);
        Assert.Equal(("Loved it, truly", "positive", 2), (csv[0].Text, csv[0].Label, csv[0].Line));
        Assert.Equal(("He said \"meh\"\nand left", 3), (csv[1].Text, csv[1].Line));
        Assert.Equal((5, 1), (csv[2].Line, csv[2].LabelId!.Value));
    }

    [Theory]
    [InlineData("b.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\"}\n", "(2,1)", "record 2: missing \"label\"")]
    [InlineData("b.jsonl", "{\"text\": \"a\", \"label\": [1]}\n", "(1,1)", "record 1: \"label\" must be a class name or a non-negative integer id")]
    [InlineData("b.jsonl", "{\"text\": \"a\", \"label\": -1}\n", "(1,1)", "record 1: \"label\" must be")]
    [InlineData("b.jsonl", "{\"label\": \"x\"}\n", "(1,1)", "record 1: missing \"text\"")]
    [InlineData("b.csv", "text,label\nok,x\n\"a, b\",y,extra\n", "(3,1)", "record 2: the row has 3 field(s) but the header has 2")]
    [InlineData("b.csv", "text,label\nok,x\nfine,\n", "(3,1)", "record 2: the label is empty")]
    [InlineData("b.csv", "review,sentiment\nok,x\n", "(1,1)", "has no \"text\" column")]
    [InlineData("b.csv", "text,label\nok,x\n\"never closed,y\n", "(3,1)", "a quoted field is never closed")]
    public void Malformed_records_name_the_file_line_and_record(string name, string content, string location, string problem)
    {
        string path = File(name, content);
        var ex = Assert.Throws<DataFormatException>(() => DataReader.Read(path, "classification"));
        Assert.Contains(path + location, ex.Message);
        Assert.Contains(problem, ex.Message);
    }

    [Fact]
    public void Labels_are_sorted_names_the_models_id2label_when_it_names_them_all_or_integer_ids()
    {
        DataRecord R(int n, string label, int? id = null) => new() { RecordNumber = n, Line = n, Text = "t", Label = label, LabelId = id };

        var sorted = LabelSet.FromData("f", [R(1, "pos"), R(2, "neg"), R(3, "pos"), R(4, "mixed")], ["LABEL_0", "LABEL_1"]);
        Assert.Equal(new[] { "mixed", "neg", "pos" }, sorted.Names);
        Assert.Equal(2, sorted.IdOf(R(9, "pos")));
        Assert.Null(sorted.IdOf(R(9, "unknown")));

        var model = LabelSet.FromData("f", [R(1, "positive"), R(2, "negative")], ["positive", "negative"]);
        Assert.Equal(new[] { "positive", "negative" }, model.Names);   // the pretrained head's ids are kept

        var ids = LabelSet.FromData("f", [R(1, "2", 2), R(2, "0", 0)], ["LABEL_0", "LABEL_1"]);
        Assert.Equal(new[] { "LABEL_0", "LABEL_1", "LABEL_2" }, ids.Names);
        var named = LabelSet.FromData("f", [R(1, "1", 1), R(2, "0", 0)], ["negative", "positive"]);
        Assert.Equal(new[] { "negative", "positive" }, named.Names);

        var mixed = Assert.Throws<DataFormatException>(() => LabelSet.FromData("f", [R(1, "a"), R(2, "b"), R(3, "1", 1)], []));
        Assert.Contains("f(3,1): error LORA100: record 3: label '1' mixes integer ids and class names", mixed.Message);
    }

    [Fact]
    public void Encoding_rejects_a_label_outside_the_set_and_keeps_the_final_special_token_when_truncating()
    {
        string folder = LoraRecipes.Models.BuiltinModels.Materialize("tiny-distilbert");
        var tokenizer = LoraRecipes.Tokenization.TextTokenizer.Load(folder);
        var labels = new LabelSet(["negative", "positive"]);
        var records = new[] { new DataRecord { RecordNumber = 1, Line = 4, Text = "a really long review of the film that goes on and on", Label = "positive" } };

        var full = tokenizer.Encode(records[0].Text!, addSpecialTokens: true);
        var examples = ClassificationData.Encode("f", records, tokenizer, labels, maxLength: 6);
        Assert.Equal(6, examples[0].InputIds.Length);
        Assert.Equal(full[0], examples[0].InputIds[0]);      // [CLS]
        Assert.Equal(full[^1], examples[0].InputIds[^1]);    // [SEP] stays last
        Assert.Equal(1, ClassificationData.ClassOf(examples[0]));

        var bad = new[] { records[0] with { Label = "neutral" } };
        var ex = Assert.Throws<DataFormatException>(() => ClassificationData.Encode("f", bad, tokenizer, labels, 16));
        Assert.Contains("f(4,1): error LORA100: record 1: label 'neutral' is not one of the classes [negative, positive]", ex.Message);
    }
}
