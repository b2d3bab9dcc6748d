using LoraRecipes.Evaluation;
using LoraRecipes.Models;
using static TorchSharp.torch;
using LoraRecipes.Runtime;

namespace LoraRecipes.Tests.Runtime;

public sealed class FileEvaluatorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lora-eval-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TextFilesAreScoredTokenWeightedOnEveryTokenAfterTheFirst()
    {
        string[] lines = { "Blood pressure is the force of blood.", "高血压是一种常见的慢性病。", "ok" };
        string path = Path.Combine(_dir, "samples.txt");
        File.WriteAllLines(path, lines);

        var result = FileEvaluator.Evaluate("builtin:tiny-llama", null, path, template: null);

        // Independent computation: log-softmax and gather, one line at a time, summed then divided by the token count.
        using var model = ModelLoader.Load(ModelLoader.ResolveFolder("builtin:tiny-llama"));
        double total = 0;
        long count = 0;
        using (no_grad())
        {
            foreach (string line in lines)
            {
                var ids = model.Tokenizer.Encode(line, addSpecialTokens: true).ToArray();
                Assert.Equal(model.Tokenizer.BosId, ids[0]);   // HF default for a Llama-3-style tokenizer: BOS, no EOS
                var logits = model.Module.forward(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0))[0];
                var logProbs = logits.log_softmax(-1);
                for (int t = 0; t + 1 < ids.Length; t++)
                {
                    total -= logProbs[t, ids[t + 1]].item<float>();
                    count++;
                }
            }
        }
        Assert.Equal(count, result.Tokens);
        Assert.Equal(total / count, result.Loss, 4);
        Assert.Equal(Math.Exp(total / count), result.Perplexity, 2);
    }
}
