using LoraRecipes.IO.Onnx;
using LoraRecipes.Models.Onnx;

namespace LoraRecipes.Tests.IO.Onnx;

/// <summary>Seeded mutation fuzzing of the ONNX reader and the BERT import: every input is a model or an OnnxFormatException.</summary>
public sealed class OnnxFuzzTests
{
    [Fact]
    public void MutatedModelsOnlyEverImportOrFailWithOnnxFormatExceptions()
    {
        byte[] original = new TinyBertOnnx().Build();
        var random = new Random(11);
        int rejected = 0, imported = 0;
        for (int i = 0; i < 1500; i++)
        {
            byte[] bytes = ByteMutation.Mutate(original, random);
            try
            {
                var model = OnnxReader.Read(bytes, "fuzz.onnx");
                BertGraph.Import(model, "fuzz.onnx");
                imported++;
            }
            catch (OnnxFormatException ex)
            {
                Assert.Contains("fuzz.onnx", ex.Message);
                rejected++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"case {i} threw {ex.GetType().Name}: {ex.Message}\n{Convert.ToHexString(bytes)}");
            }
        }
        Assert.True(rejected > 0 && imported > 0, $"{imported} imported, {rejected} rejected");
    }
}
