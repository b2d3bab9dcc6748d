using System.Text;
using System.Text.Json;

namespace LoraRecipes.Build.Tests.Integration;

/// <summary>
/// <c>LoraTrainer=external</c>: the build never trains; a missing adapter fails with LORA906 and the commands that
/// produce one; after <c>dotnet lora import-adapter</c> of a PEFT adapter written as a foreign trainer writes it,
/// the build sees the adapter up to date and copies it to the output.
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class ExternalTrainerBuildTests(PackageFeed feed)
{
    [Fact]
    public void Missing_adapter_fails_with_the_commands_and_an_imported_one_is_up_to_date()
    {
        using var project = new ConsumerProject(feed);

        var missing = project.Build("-p:LoraTrainer=external");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("error LORA906", missing.Output);
        Assert.Contains("dotnet lora export", missing.Output);
        Assert.Contains("dotnet lora import-adapter", missing.Output);
        Assert.DoesNotContain("training adapter", missing.Output);

        string foreign = project.Path("cluster-output");
        WriteForeignAdapter(foreign);
        string trainer = Path.Combine(PackageFeed.PackagesRoot, "lorarecipes.build", feed.Version.ToLowerInvariant(), "tools", "net10.0", "dotnet-lora.dll");
        var import = DotNet.Run(project.Directory, "exec", "--additionalprobingpath", PackageFeed.PackagesRoot, trainer,
            "import-adapter", foreign, "--recipe", "tiny.yaml", "--output", project.Path("obj", "Debug", "net10.0", "lora", "tiny"), "--trainer", "axolotl 0.15");
        Assert.True(import.ExitCode == 0, import.Output);

        var built = project.Build("-p:LoraTrainer=external");
        Assert.True(built.ExitCode == 0, built.Output);
        Assert.Contains("tiny.yaml: adapter up to date", built.Output);
        Assert.DoesNotContain("training adapter", built.Output);
        Assert.True(File.Exists(project.OutputFile("adapter_model.safetensors")), built.Output);
        using var manifest = JsonDocument.Parse(File.ReadAllText(project.ArtifactFile("lora-manifest.json")));
        Assert.Equal("axolotl 0.15", manifest.RootElement.GetProperty("provenance").GetProperty("trained_by").GetString());
    }

    /// <summary>
    /// A PEFT LoRA adapter for ConsumerProject.TinyRecipe (builtin:tiny-llama: 4 layers, hidden 256, q_proj 256→256,
    /// v_proj 256→128 with 4 KV heads × 32; r 2, alpha 32), as a Python trainer saves it: safetensors with
    /// <c>base_model.model.…lora_A.weight</c> [r, in] / <c>lora_B.weight</c> [out, r], and an adapter_config.json
    /// with keys newer PEFT releases add.
    /// </summary>
    private static void WriteForeignAdapter(string folder)
    {
        Directory.CreateDirectory(folder);
        var tensors = new List<(string Name, int[] Shape)>();
        for (int layer = 0; layer < 4; layer++)
        {
            foreach (var (module, outFeatures) in new[] { ("q_proj", 256), ("v_proj", 128) })
            {
                tensors.Add(($"base_model.model.model.layers.{layer}.self_attn.{module}.lora_A.weight", [2, 256]));
                tensors.Add(($"base_model.model.model.layers.{layer}.self_attn.{module}.lora_B.weight", [outFeatures, 2]));
            }
        }
        // safetensors: u64 little-endian header length, JSON header {name: {dtype, shape, data_offsets}}, raw data.
        var header = new Dictionary<string, object> { ["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, shape) in tensors)
        {
            long bytes = 4L * shape[0] * shape[1];
            header[name] = new { dtype = "F32", shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        using (var file = File.Create(Path.Combine(folder, "adapter_model.safetensors")))
        {
            file.Write(BitConverter.GetBytes((ulong)json.Length));
            file.Write(json);
            var value = BitConverter.GetBytes(0.01f);
            for (long i = 0; i < offset / 4; i++) file.Write(value);
        }
        File.WriteAllText(Path.Combine(folder, "adapter_config.json"), """
            {"base_model_name_or_path": "./base_model", "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 2, "lora_alpha": 32,
             "lora_dropout": 0.0, "target_modules": ["v_proj", "q_proj"], "bias": "none", "use_rslora": false, "use_dora": false,
             "fan_in_fan_out": false, "inference_mode": true, "modules_to_save": null, "rank_pattern": {}, "alpha_pattern": {},
             "lora_bias": false, "use_qalora": false, "qalora_group_size": 16, "target_parameters": null, "trainable_token_indices": null}
            """);
    }
}
