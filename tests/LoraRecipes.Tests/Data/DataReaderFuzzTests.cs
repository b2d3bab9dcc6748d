using System.Text;
using LoraRecipes.Data;

namespace LoraRecipes.Tests.Data;

/// <summary>Seeded mutation fuzzing of the data readers: every input is either records or a DataFormatException.</summary>
public sealed class DataReaderFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lora-datafuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("data.json", "alpaca", "[\n {\"instruction\": \"介绍疾病\", \"input\": \"高血压\", \"output\": \"…\"},\n {\"instruction\": \"b\", \"output\": \"c\"}\n]")]
    [InlineData("data.jsonl", "alpaca", "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"c\", \"input\": \"d\", \"output\": \"e\"}\n")]
    [InlineData("data.jsonl", "messages", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}\n")]
    [InlineData("data.csv", "classification", "text,label\n\"good, really\",positive\nbad,negative\n")]
    public void MutatedFilesOnlyEverYieldRecordsOrDataFormatExceptions(string name, string format, string valid)
    {
        string path = Path.Combine(_dir, name);
        var random = new Random(7);
        byte[] original = Encoding.UTF8.GetBytes(valid);
        int rejected = 0, read = 0;
        for (int i = 0; i < 1500; i++)
        {
            byte[] bytes = ByteMutation.Mutate(original, random);
            File.WriteAllBytes(path, bytes);
            try
            {
                DataReader.Read(path, format);
                read++;
            }
            catch (DataFormatException ex)
            {
                Assert.Contains(name, ex.Message);
                rejected++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"case {i} threw {ex.GetType().Name}: {ex.Message}\n{Convert.ToHexString(bytes)}");
            }
        }
        Assert.True(rejected > 0 && read > 0, $"{read} read, {rejected} rejected");
    }
}
