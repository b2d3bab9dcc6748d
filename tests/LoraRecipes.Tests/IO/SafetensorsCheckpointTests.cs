using System.Text.Json;
using LoraRecipes.IO;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.IO;

public class SafetensorsCheckpointTests
{
    private static Dictionary<string, Tensor> Weights()
    {
        var g = new Generator(7);
        return new Dictionary<string, Tensor>
        {
            ["model.embed_tokens.weight"] = randn(16, 8, generator: g),                                   // 512 B
            ["model.layers.0.self_attn.q_proj.weight"] = randn(8, 8, generator: g).to_type(ScalarType.BFloat16), // 128 B
            ["model.layers.0.self_attn.v_proj.weight"] = randn(8, 8, generator: g).to_type(ScalarType.Float16),  // 128 B
            ["model.layers.0.mlp.up_proj.weight"] = randn(32, 8, generator: g),                          // 1024 B
            ["model.norm.weight"] = ones(8),                                                              // 32 B
            ["position_ids"] = arange(40, dtype: ScalarType.Int64),                                       // 320 B
        };
    }

    private static void AssertSameTensors(Dictionary<string, Tensor> expected, SafetensorsCheckpoint checkpoint)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), checkpoint.Names);
        foreach ((string name, Tensor tensor) in expected)
        {
            using Tensor read = checkpoint.ReadTensor(name);
            Assert.Equal(tensor.dtype, read.dtype);
            Assert.Equal(tensor.shape, read.shape);
            Assert.Equal(tensor.bytes.ToArray(), read.bytes.ToArray());
            Assert.Equal(tensor.shape, checkpoint.Info(name).Shape);
        }
    }

    [Fact]
    public void ShardedWriteReadsBackIdentical()
    {
        using var dir = new TempDirectory();
        Dictionary<string, Tensor> weights = Weights();

        SafetensorsCheckpoint.WriteSharded(dir.Path, weights, maxShardBytes: 600);

        string[] shards = Directory.GetFiles(dir.Path, "model-*.safetensors").Select(Path.GetFileName).Order().ToArray()!;
        // Greedy in the given order: [512] [128 128] [1024] [32 320]; 1024 > 600 gets a shard of its own.
        Assert.Equal(["model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
            "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors"], shards);
        Assert.False(File.Exists(dir.File("model.safetensors")));

        using JsonDocument index = JsonDocument.Parse(File.ReadAllText(dir.File("model.safetensors.index.json")));
        Assert.Equal(512 + 128 + 128 + 1024 + 32 + 320, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        Assert.Equal("model-00003-of-00004.safetensors",
            index.RootElement.GetProperty("weight_map").GetProperty("model.layers.0.mlp.up_proj.weight").GetString());

        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        AssertSameTensors(weights, checkpoint);
        Assert.Equal("2144", checkpoint.IndexMetadata["total_size"]);
        Assert.True(checkpoint.Contains("position_ids"));
        Assert.False(checkpoint.Contains("lm_head.weight"));
        Assert.Throws<KeyNotFoundException>(() => checkpoint.ReadTensor("lm_head.weight"));
    }

    [Fact]
    public void SmallCheckpointIsOneFileAndReplacesAnEarlierShardedLayout()
    {
        using var dir = new TempDirectory();
        Dictionary<string, Tensor> weights = Weights();
        SafetensorsCheckpoint.WriteSharded(dir.Path, weights, maxShardBytes: 600);
        File.WriteAllText(dir.File("config.json"), "{}");

        SafetensorsCheckpoint.WriteSharded(dir.Path, weights, maxShardBytes: 1L << 30);

        Assert.Equal(["config.json", "model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        AssertSameTensors(weights, checkpoint);
        Assert.Empty(checkpoint.IndexMetadata);
    }

    [Fact]
    public void PickleOnlyFolderIsRefusedWithTheConversionCommand()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("pytorch_model.bin"), [0x80, 0x02, 0x7D, 0x71]); // a pickle's opening bytes: never read
        File.WriteAllText(dir.File("config.json"), "{}");

        var e = Assert.Throws<PickledCheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));

        Assert.Equal(["pytorch_model.bin"], e.PickledFiles);
        Assert.Contains("pytorch_model.bin", e.Message);
        Assert.Contains("execute arbitrary code", e.Message);
        Assert.Contains("from safetensors.torch import save_file", e.Message);
        Assert.Contains("weights_only=True", e.Message);
    }

    [Fact]
    public void FolderWithoutWeightsIsNotFound()
    {
        using var dir = new TempDirectory();
        Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(dir.Path));
        Assert.Throws<DirectoryNotFoundException>(() => SafetensorsCheckpoint.Open(dir.File("missing")));
    }

    public static TheoryData<string, string> HostileIndexes => new()
    {
        { "{\"weight_map\":{\"w\":\"../outside.safetensors\"}}", "tensor 'w': shard '../outside.safetensors' escapes" },
        { "{\"weight_map\":{\"w\":\"sub/../../outside.safetensors\"}}", "escapes" },
        { "{\"weight_map\":{\"w\":\"/etc/passwd\"}}", "tensor 'w': shard '/etc/passwd' is an absolute path" },
        { "{\"weight_map\":{\"w\":\"C:\\\\weights.safetensors\"}}", "is an absolute path" },
        { "{\"weight_map\":{\"w\":\"model-00009-of-00009.safetensors\"}}", "shard 'model-00009-of-00009.safetensors' does not exist" },
        { "{\"weight_map\":{\"w\":\"\"}}", "an empty shard file name" },
        { "{\"weight_map\":{\"w\":7}}", "tensor 'w': the weight_map value is not a file name" },
        { "{\"weight_map\":{\"w\":\"model.safetensors\",\"w\":\"model.safetensors\"}}", "tensor 'w': listed twice in weight_map" },
        { "{\"metadata\":{}}", "'weight_map' is missing" },
        { "{\"metadata\":[],\"weight_map\":{}}", "'metadata' is not an object" },
        { "[]", "the index is not a JSON object" },
        { "{\"weight_map\":", "the index is not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(HostileIndexes))]
    public void HostileIndexIsRefused(string indexJson, string expectedProblem)
    {
        using var dir = new TempDirectory();
        string model = dir.File("model");
        using (Tensor w = ones(2))
        {
            SafetensorsWriter.Write(Path.Combine(model, "model.safetensors"), [new("w", w)]);
        }
        File.WriteAllText(dir.File("outside.safetensors"), "not ours: a real file next to the model folder");
        File.WriteAllText(Path.Combine(model, "model.safetensors.index.json"), indexJson);

        var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(model).Dispose());

        Assert.Contains(expectedProblem, e.Message);
        Assert.Contains("model.safetensors.index.json", e.Message);
    }

    [Fact]
    public void IndexNamingATensorItsShardLacksIsRefusedWhenTheShardOpens()
    {
        using var dir = new TempDirectory();
        using (Tensor w = ones(2))
        {
            SafetensorsWriter.Write(dir.File("model-00001-of-00001.safetensors"), [new("w", w)]);
        }
        File.WriteAllText(dir.File("model.safetensors.index.json"),
            "{\"weight_map\":{\"w\":\"model-00001-of-00001.safetensors\",\"ghost\":\"model-00001-of-00001.safetensors\"}}");

        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        var e = Assert.Throws<SafetensorsFormatException>(() => checkpoint.ReadTensor("w"));

        Assert.Contains("tensor 'ghost': the index places it in 'model-00001-of-00001.safetensors', which has no such tensor", e.Message);
    }

    [Fact]
    public void MalformedShardIsReportedAsAFormatError()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("model-00001-of-00001.safetensors"), [1, 2, 3]);
        File.WriteAllText(dir.File("model.safetensors.index.json"), "{\"weight_map\":{\"w\":\"model-00001-of-00001.safetensors\"}}");

        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        var e = Assert.Throws<SafetensorsFormatException>(() => checkpoint.Info("w"));
        Assert.Contains("model-00001-of-00001.safetensors", e.Message);
    }
}
