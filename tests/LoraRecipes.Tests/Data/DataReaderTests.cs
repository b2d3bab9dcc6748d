using LoraRecipes.Data;

namespace LoraRecipes.Tests.Data;

public sealed class DataReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lora-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void ReadsJsonArraysAndJsonLinesWithRecordNumbersAndLines()
    {
        var array = DataReader.Read(File("a.json", "[\n  {\"instruction\": \"介绍疾病\", \"input\": \"高血压\", \"output\": \"…\"},\n  {\"instruction\": \"b\", \"output\": \"c\"}\n]"), "alpaca");
        Assert.Equal(2, array.Count);
        Assert.Equal((1, 2), (array[0].RecordNumber, array[0].Line));
        Assert.Equal((2, 3), (array[1].RecordNumber, array[1].Line));
        Assert.Equal("", array[1].Input);

        var lines = DataReader.Read(File("b.jsonl", "{\"text\": \"one\"}\n\n{\"text\": \"two\"}\n"), "text");
        Assert.Equal(new[] { "one", "two" }, lines.Select(r => r.Text));
        Assert.Equal(3, lines[1].Line);
    }

    [Theory]
    [InlineData("[{\"instruction\": \"a\", \"output\": \"b\"},\n {\"instruction\": \"a\"}]", "record 2", "(2,1)", "missing \"output\"")]
    [InlineData("[{\"instruction\": \"a\", \"output\": 5}]", "record 1", "(1,1)", "\"output\" must be a string")]
    [InlineData("[{\"instruction\": \"a\", \"output\": \"b\"},\n \"oops\"]", "record 2", "(2,1)", "expected a JSON object")]
    [InlineData("[{\"instruction\": \"a\", \"output\": \"b\"},\n {\"instruction\": \"a\", \"output\": ", "record 2", "(2,1)", "invalid JSON")]
    public void MalformedArrayRecordsNameTheRecordAndLine(string json, string record, string location, string problem)
    {
        var ex = Assert.Throws<DataFormatException>(() => DataReader.Read(File("bad.json", json), "alpaca"));
        Assert.Contains(record, ex.Message);
        Assert.Contains("bad.json" + location, ex.Message);
        Assert.Contains(problem, ex.Message);
        Assert.Contains("LORA100", ex.Message);
    }

    [Fact]
    public void MalformedJsonLinesNameTheLine()
    {
        var ex = Assert.Throws<DataFormatException>(() => DataReader.Read(File("bad.jsonl", "{\"instruction\":\"a\",\"output\":\"b\"}\n{\"instruction\": \"a\", \n"), "alpaca"));
        Assert.Equal(2, ex.RecordNumber);
        Assert.Equal(2, ex.LineNumber);
    }

    [Fact]
    public void EmptyAndMissingFilesAreClearErrors()
    {
        Assert.Contains("empty", Assert.Throws<DataFormatException>(() => DataReader.Read(File("e.json", "  \n"), "alpaca")).Message);
        Assert.Contains("does not exist", Assert.Throws<DataFormatException>(() => DataReader.Read(Path.Combine(_dir, "nope.json"), "alpaca")).Message);
        Assert.Contains("invalid JSON", Assert.Throws<DataFormatException>(() => DataReader.Read(File("i.jsonl", "{\"text\": \"\xff\"}\n{"), "text")).Message);
    }

    [Fact]
    public void MessagesMustEndWithTheAssistant()
    {
        var ok = DataReader.Read(File("m.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}"), "messages");
        Assert.Equal(2, ok[0].Messages!.Count);
        var ex = Assert.Throws<DataFormatException>(() => DataReader.Read(File("n.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"), "messages"));
        Assert.Contains("assistant", ex.Message);
    }

    [Fact]
    public void SplitIsDeterministicDisjointAndComplete()
    {
        var items = Enumerable.Range(0, 50).ToList();
        var (train, validation) = DatasetSplit.Split(items, 0.1, 42);
        var (train2, validation2) = DatasetSplit.Split(items, 0.1, 42);
        Assert.Equal(5, validation.Count);
        Assert.Equal(validation, validation2);
        Assert.Equal(train, train2);
        Assert.Empty(train.Intersect(validation));
        Assert.Equal(items, train.Concat(validation).Order());
        Assert.NotEqual(validation, DatasetSplit.Split(items, 0.1, 43).Validation);
    }

    [Fact]
    public void RecordsStreamUpToAMalformedOneAndWholeFileErrorsComeFirst()
    {
        string path = File("s.jsonl", "{\"text\": \"one\"}\n{\"text\": \"two\"}\n{\"text\": 3}\n");
        using var records = DataReader.Records(path, "text").GetEnumerator();
        Assert.True(records.MoveNext());
        Assert.True(records.MoveNext());
        Assert.Equal("two", records.Current.Text);
        var ex = Assert.Throws<DataFormatException>(() => records.MoveNext());
        Assert.Equal((3, 3), (ex.RecordNumber, ex.LineNumber));

        // Not UTF-8 on line 3: reported when the records are asked for, before any is parsed (as Read does).
        string bad = Path.Combine(_dir, "u.jsonl");
        System.IO.File.WriteAllBytes(bad, [.. "{\"text\": 1}\n\n"u8, 0xC3, .. "\n"u8]);
        var utf8 = Assert.Throws<DataFormatException>(() => DataReader.Records(bad, "text"));
        Assert.Contains("u.jsonl(3,1): error LORA100: the file is not valid UTF-8 (byte 13).", utf8.Message);
        Assert.Contains("holds no records", Assert.Throws<DataFormatException>(() => DataReader.Records(File("n.json", "[ ]"), "text").ToList()).Message);
    }

    [Fact]
    public void JsonLinesLongerThanTheReadBufferAndArraysYieldEveryRecordWithItsLine()
    {
        string big = new('x', 200_000);
        var lines = DataReader.Read(File("big.jsonl", $"\uFEFF{{\"text\": \"{big}\"}}\r\n\r\n{{\"text\": \"中文\"}}"), "text");
        Assert.Equal(new[] { (1, 1), (2, 3) }, lines.Select(r => (r.RecordNumber, r.Line)));
        Assert.Equal(big, lines[0].Text);
        var array = DataReader.Records(File("big.json", $"[\n{{\"text\": \"{big}\"}},\n\n  {{\"text\": \"b\"}} // c\n, {{\"text\": \"c\"}},\n]"), "text").ToList();
        Assert.Equal(new[] { (1, 2), (2, 4), (3, 5) }, array.Select(r => (r.RecordNumber, r.Line)));
    }
}
