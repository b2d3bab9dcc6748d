using LoraRecipes.Artifacts;
using LoraRecipes.Data;
using LoraRecipes.IO;
using LoraRecipes.Models;
using LoraRecipes.Tokenization;

namespace LoraRecipes.Tests.Hostile;

/// <summary>
/// Every file or folder under <c>Hostile/&lt;kind&gt;/</c> goes through the loader of its kind and must end in that
/// loader's typed error, naming the input and saying what is wrong (the fragment in <c>expected.tsv</c>) — never a crash,
/// another exception type, or a hang. Add a case: drop a file (or folder) in and a line in <c>expected.tsv</c>.
/// </summary>
public sealed class HostileInputTests
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Hostile");

    /// <summary>kind → (loader, the exception type it must throw).</summary>
    private static readonly Dictionary<string, (Action<string> Load, Type Error)> Loaders = new()
    {
        ["data"] = (path => DataReader.Read(path, "alpaca"), typeof(DataFormatException)),
        ["config"] = (path => ModelConfig.Load(path), typeof(ModelLoadException)),
        ["safetensors"] = (ReadEveryTensor, typeof(SafetensorsFormatException)),
        ["tokenizer"] = (folder => TextTokenizer.Load(folder), typeof(TokenizerLoadException)),
        ["adapter"] = (folder => AdapterLoader.Apply(TinyModels.Create(TinyModels.Config(tied: false)), folder), typeof(AdapterLoadException)),
        ["template"] = (RenderTemplate, typeof(TemplateFileException)),
        ["onnx"] = (path => LoraRecipes.Models.Onnx.BertGraph.Import(LoraRecipes.IO.Onnx.OnnxReader.Read(path), path), typeof(LoraRecipes.IO.Onnx.OnnxFormatException)),
    };

    /// <summary>A chat template file parsed and rendered on a one-message conversation; its JinjaException, named by file.</summary>
    private static void RenderTemplate(string path)
    {
        try
        {
            var messages = LoraRecipes.Templating.Jinja.JinjaJson.Parse("""[{"role": "user", "content": "hi"}]""");
            LoraRecipes.Templating.Jinja.JinjaTemplate.Parse(File.ReadAllText(path)).Render(new Dictionary<string, object?> { ["messages"] = messages });
        }
        catch (LoraRecipes.Templating.Jinja.JinjaException ex)
        {
            throw new TemplateFileException($"{Path.GetFileName(path)}: {ex.Message}");
        }
    }

    private sealed class TemplateFileException(string message) : Exception(message);

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (string kind in Loaders.Keys)
            foreach (string entry in Directory.GetFileSystemEntries(Path.Combine(Root, kind)).Order(StringComparer.Ordinal))
                data.Add(kind + "/" + Path.GetFileName(entry));
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachHostileInputEndsInAClearTypedError(string name)
    {
        var expected = Expectations();
        Assert.True(expected.TryGetValue(name, out string? fragment), $"add a line for '{name}' to Hostile/expected.tsv");
        var (load, error) = Loaders[name[..name.IndexOf('/')]];
        var ex = LoadWithin(load, Path.Combine(Root, name));
        Assert.True(ex?.GetType() == error, $"{name}: expected {error.Name}, got {(ex is null ? "no error" : ex.GetType().Name + ": " + ex.Message)}");
        Assert.True(ex!.Message.Contains(Path.GetFileName(name), StringComparison.Ordinal), $"{name}: the message does not name the input: {ex.Message}");
        Assert.True(ex.Message.Contains(fragment!, StringComparison.OrdinalIgnoreCase), $"{name}: expected '{fragment}' in: {ex.Message}");
    }

    [Fact]
    public void AGiganticSingleLineIsRefusedBeforeParsing()
    {
        using var dir = new IO.TempDirectory();
        string path = Path.Combine(dir.Path, "gigantic.jsonl");
        using (var stream = File.Create(path))
        {
            stream.Write("{\"instruction\": \"x\", \"output\": \""u8);
            var chunk = new byte[1 << 20];
            Array.Fill(chunk, (byte)'a');
            for (int i = 0; i < 17; i++) stream.Write(chunk);
            stream.Write("\"}\n"u8);
        }
        var ex = Assert.IsType<DataFormatException>(LoadWithin(p => DataReader.Read(p, "alpaca"), path));
        Assert.Contains("longer than 16 MB", ex.Message);
    }

    private static Dictionary<string, string> Expectations() =>
        File.ReadAllLines(Path.Combine(Root, "expected.tsv"))
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split('\t', 2))
            .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    /// <summary>Runs a loader with a time limit: a hang is a failure, not a stuck test run.</summary>
    private static Exception? LoadWithin(Action<string> load, string path, int seconds = 30)
    {
        var task = Task.Run(() => load(path));
        try
        {
            Assert.True(task.Wait(TimeSpan.FromSeconds(seconds)), $"{path}: still loading after {seconds} s");
            return null;
        }
        catch (AggregateException ex)
        {
            return ex.InnerException;
        }
    }

    private static void ReadEveryTensor(string path)
    {
        using var file = SafetensorsFile.Open(path);
        foreach (var info in file.Tensors) file.ReadTensor(info.Name).Dispose();
    }
}
