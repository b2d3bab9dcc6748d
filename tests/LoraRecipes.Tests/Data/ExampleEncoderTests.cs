using LoraRecipes.Data;
using LoraRecipes.Models;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Data;

public class ExampleEncoderTests
{
    private static readonly TextTokenizer Tokenizer = TextTokenizer.Load(BuiltinModels.Materialize("tiny-llama"));

    private static DataRecord Record(string output = "高血压是指血压持续升高。") =>
        new() { RecordNumber = 1, Line = 1, Instruction = "介绍疾病", Input = "请介绍一下什么是高血压", Output = output };

    [Theory]
    [InlineData("alpaca")]
    [InlineData("chatml")]
    [InlineData("plain")]
    public void PromptTokensAreMaskedAndResponsePlusEosAreTrained(string template)
    {
        var formatter = PromptFormatter.For(template);
        var example = new ExampleEncoder(Tokenizer, formatter, 512, trainOnInputs: false).Encode(Record());

        // Independent expectation: BOS + encode(prompt) are masked; everything after is the response.
        var prompt = new List<int> { Tokenizer.BosId!.Value };
        prompt.AddRange(Tokenizer.Encode(formatter.FormatPrompt("介绍疾病", "请介绍一下什么是高血压")));
        Assert.Equal(prompt, example.InputIds.Take(prompt.Count));
        Assert.All(example.Labels.Take(prompt.Count), l => Assert.Equal(ExampleEncoder.IgnoreIndex, l));
        Assert.Equal(example.InputIds.Skip(prompt.Count), example.Labels.Skip(prompt.Count));
        Assert.Equal(Tokenizer.EosId, example.InputIds[^1]);
        Assert.Equal(Tokenizer.EosId, example.Labels[^1]);
        Assert.Contains("高血压是指血压持续升高。", Tokenizer.Decode(example.InputIds.Skip(prompt.Count)));
    }

    [Fact]
    public void TrainOnInputsKeepsEveryTokenButBos()
    {
        var example = new ExampleEncoder(Tokenizer, PromptFormatter.For("alpaca"), 512, trainOnInputs: true).Encode(Record());
        Assert.Equal(ExampleEncoder.IgnoreIndex, example.Labels[0]);
        Assert.Equal(example.InputIds.Skip(1), example.Labels.Skip(1));
    }

    [Fact]
    public void TruncationKeepsThePromptAndDropsExamplesWithNoResponseLeft()
    {
        var encoder = new ExampleEncoder(Tokenizer, PromptFormatter.For("alpaca"), 48, trainOnInputs: false);
        var longAnswer = encoder.Encode(Record(string.Concat(Enumerable.Repeat("很长的回答。", 40))));
        Assert.Equal(48, longAnswer.InputIds.Length);
        var (kept, dropped) = new ExampleEncoder(Tokenizer, PromptFormatter.For("alpaca"), 16, false).EncodeAll(new[] { Record() });
        Assert.Empty(kept);
        Assert.Equal(1, dropped);
    }

    [Fact]
    public void CollatePadsRightAndMasksPadding()
    {
        var a = new TokenizedExample(new[] { 1, 2, 3 }, new[] { -100, 2, 3 }, 1);
        var b = new TokenizedExample(new[] { 4 }, new[] { 4 }, 2);
        using var batch = Batch.Collate(new[] { a, b }, padId: 9);
        Assert.Equal(new long[] { 1, 2, 3, 4, 9, 9 }, batch.InputIds.data<long>().ToArray());
        Assert.Equal(new long[] { -100, 2, 3, 4, -100, -100 }, batch.Labels.data<long>().ToArray());
        Assert.Equal(4, batch.Tokens);
    }
}
