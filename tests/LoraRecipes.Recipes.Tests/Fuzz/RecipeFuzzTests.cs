using System.Text;

namespace LoraRecipes.Recipes.Tests.Fuzz;

/// <summary>
/// Seeded mutation fuzzing of the recipe loader: whatever bytes a recipe holds, loading returns diagnostics
/// and never throws. Bounded (a fixed number of cases and a time budget) so it runs in CI.
/// </summary>
public sealed class RecipeFuzzTests : IDisposable
{
    private const string Valid = """
        name: fuzz
        base_model: builtin:tiny-llama
        data:
          train: data.jsonl
          validation_split: 0.1
          format: alpaca
        lora:
          r: 8
          alpha: 16
          target_modules: [q_proj, "re:.*v_proj"]
        training:
          epochs: 2
          learning_rate: 2e-4
        evaluation:
          every: 10
          samples: ["hi", "你好"]
        """;

    private static readonly string[] Tokens = { ":", "- ", "[", "]", "{", "}", "&a", "*a", "!!", "\"", "'", "\n  ", "\t", "#", "|", ">", "~", "null", "1e999", "-1", "é", "\u0000", "\uFFFF" };

    private readonly string _dir = Directory.CreateTempSubdirectory("lora-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void MutatedRecipesOnlyEverYieldDiagnostics()
    {
        File.WriteAllText(Path.Combine(_dir, "data.jsonl"), "{\"instruction\": \"a\", \"output\": \"b\"}\n");
        string path = Path.Combine(_dir, "recipe.yaml");
        var random = new Random(20261123);
        int failures = 0, successes = 0;
        for (int i = 0; i < 1500; i++)   // a fixed number of cases: the same 1500 mutations on every machine
        {
            string text = Mutate(Valid, random);
            File.WriteAllText(path, text, Encoding.UTF8);
            RecipeLoadResult result;
            try
            {
                result = RecipeLoader.Load(path);
            }
            catch (Exception ex)
            {
                Assert.Fail($"case {i} threw {ex}\n--- recipe ---\n{text}");
                return;
            }
            if (result.Succeeded) successes++;
            else
            {
                failures++;
                Assert.All(result.Diagnostics, d =>
                {
                    Assert.Matches("^LORA\\d{3}$", d.Code);
                    Assert.True(d.Line >= 1 && d.Column >= 1, d.ToString());
                });
            }
        }
        Assert.True(failures > 0 && successes > 0, $"the mutations should produce both outcomes ({successes} ok, {failures} rejected)");
    }

    private static string Mutate(string text, Random random)
    {
        var sb = new StringBuilder(text);
        int edits = 1 + random.Next(4);
        for (int e = 0; e < edits && sb.Length > 0; e++)
        {
            int at = random.Next(sb.Length);
            switch (random.Next(4))
            {
                case 0: sb.Remove(at, Math.Min(1 + random.Next(8), sb.Length - at)); break;
                case 1: sb.Insert(at, Tokens[random.Next(Tokens.Length)]); break;
                case 2: sb[at] = (char)random.Next(1, 0x3000); break;
                default:
                    int from = random.Next(sb.Length), length = Math.Min(1 + random.Next(20), sb.Length - from);
                    sb.Insert(at, sb.ToString(from, length));
                    break;
            }
        }
        return sb.ToString();
    }
}
