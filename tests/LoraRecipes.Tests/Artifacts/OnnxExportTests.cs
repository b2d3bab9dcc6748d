using System.Text;
using System.Text.Json.Nodes;
using LoraRecipes.Artifacts;
using LoraRecipes.Artifacts.OnnxExport;
using LoraRecipes.IO;
using LoraRecipes.IO.Onnx;
using LoraRecipes.Lora;
using LoraRecipes.Models;
using LoraRecipes.Tests.IO;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>;
using Tensor = TorchSharp.torch.Tensor;
using Xunit.Abstractions;
using static TorchSharp.torch;
using LoraRecipes.Recipes.Artifacts;

namespace LoraRecipes.Tests.Artifacts;

/// <summary>
/// The merged ONNX export against ONNX Runtime: ORT running the exported file must give the logits our TorchSharp
/// model gives with the adapter applied unmerged (h = W x + s·B(A x)), on padded and unpadded batches.
/// </summary>
public class OnnxExportTests(ITestOutputHelper output)
{
    /// <summary>The conformance bound on |logits_ORT − logits_ours|.</summary>
    private const double Tolerance = 1e-4;

    public static TheoryData<string, string> Models => new()
    {
        { "distilbert", "gelu" },
        { "bert", "gelu" },
        { "bert", "gelu_new" },
        { "bert", "relu" },
        { "bert", "silu" },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void OrtRunningTheMergedExportGivesTheUnmergedModelsLogits(string family, string activation)
    {
        using var dir = new TempDirectory();
        var (spec, targets) = Base(family, activation, dir);
        var (model, lora) = Adapt(spec, targets, dir.File("adapter"));
        using var _ = model;
        var classifier = model.Classifier!;

        var result = OnnxClassifierExporter.Write(dir.File("adapter"), dir.File("model.onnx"));
        Assert.Equal(lora.Count, result.MergedLayers);
        Assert.Equal(classifier.Labels, result.Labels);
        Assert.Equal(new FileInfo(result.Path).Length, result.Bytes);

        var batches = new[] { ("padded", PaddedBatch(model.Config.VocabSize)), ("unpadded", UnpaddedBatch(model.Config.VocabSize)) };
        using var guard = no_grad();
        var ort = batches.Select(b => Ort.Logits(result.Path, b.Item2.Ids, b.Item2.Mask, classifier.Labels.Count)).ToList();
        for (int i = 0; i < batches.Length; i++)
        {
            var (name, (ids, mask)) = batches[i];
            double diff = MaxAbsDiff(classifier.Classify(ids, mask), ort[i]);
            output.WriteLine($"{family}/{activation} {name} batch {string.Join("x", ids.shape)}: max |ORT - ours| = {diff:E2}; file {result.Bytes} bytes");
            Assert.True(diff <= Tolerance, $"{name}: max |ORT - ours| = {diff} > {Tolerance}");
        }

        // The adapter is in the export: without B·A our logits move well past the tolerance.
        foreach (var l in lora.Values) l.B.zero_();
        for (int i = 0; i < batches.Length; i++)
            Assert.True(MaxAbsDiff(classifier.Classify(batches[i].Item2.Ids, batches[i].Item2.Mask), ort[i]) > 100 * Tolerance,
                "the LoRA update changes nothing here; the test would not see it lost");
    }

    [Fact]
    public void AnAllPaddingRowGetsWhatOurAttentionGivesIt()
    {
        // No tokenizer emits it, but a caller can: libtorch's attention outputs 0 for a row with no key to attend to;
        // a plain additive mask would instead average every (padding) value.
        using var dir = new TempDirectory();
        var (spec, targets) = Base("distilbert", "gelu", dir);
        using var model = Adapt(spec, targets, dir.File("adapter")).Model;
        string path = OnnxClassifierExporter.Write(dir.File("adapter"), dir.File("model.onnx")).Path;
        var (ids, mask) = PaddedBatch(model.Config.VocabSize);
        mask[2] = 0;
        using var guard = no_grad();
        var ours = model.Classifier!.Classify(ids, mask);
        Assert.True(ours.isfinite().all().item<bool>());
        double diff = MaxAbsDiff(ours, Ort.Logits(path, ids, mask, 2));
        output.WriteLine($"all-padding row: max |ORT - ours| = {diff:E2}");
        Assert.True(diff <= Tolerance, $"max |ORT - ours| = {diff}");
    }

    [Fact]
    public void TheFileHasTheContractsInputsOutputNamesAndMetadata()
    {
        using var dir = new TempDirectory();
        var (spec, targets) = Base("distilbert", "gelu", dir);
        using var model = Adapt(spec, targets, dir.File("adapter")).Model;
        string path = OnnxClassifierExporter.Write(dir.File("adapter"), dir.File("model.onnx")).Path;

        using var session = new InferenceSession(path);
        Assert.Equal(["input_ids", "attention_mask"], session.InputMetadata.Keys);
        foreach (var input in session.InputMetadata.Values)
        {
            Assert.Equal(typeof(long), input.ElementType);
            Assert.Equal([-1, -1], input.Dimensions);   // dynamic batch and sequence
            Assert.Equal(["batch", "sequence"], input.SymbolicDimensions);
        }
        var logits = Assert.Single(session.OutputMetadata);
        Assert.Equal("logits", logits.Key);
        Assert.Equal(typeof(float), logits.Value.ElementType);
        Assert.Equal([-1, 2], logits.Value.Dimensions);

        var meta = session.ModelMetadata;
        Assert.Equal("LoraRecipes", meta.ProducerName);
        var id2label = JsonNode.Parse(meta.CustomMetadataMap[OnnxClassifierExporter.Id2LabelKey])!.AsObject();
        Assert.Equal(["negative", "positive"], new[] { (string)id2label["0"]!, (string)id2label["1"]! });
        Assert.Equal(spec, meta.CustomMetadataMap[OnnxClassifierExporter.BaseModelKey]);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(dir.File("adapter/adapter_model.safetensors")))),
            meta.CustomMetadataMap[OnnxClassifierExporter.AdapterSha256Key]);

        // Initializers carry the HF names (an importer reads them back by name), and no LoRA tensor is left.
        string bytes = Encoding.Latin1.GetString(File.ReadAllBytes(path));
        Assert.Contains("distilbert.transformer.layer.0.attention.q_lin.weight", bytes);
        Assert.Contains("pre_classifier.weight", bytes);
        Assert.DoesNotContain("lora_A", bytes);
        Assert.DoesNotContain("lora_B", bytes);
        Assert.DoesNotContain("base_layer", bytes);
        Assert.Empty(Directory.GetFiles(dir.Path, ".*.tmp"));   // the atomic write left no temp file
    }

    [Theory]
    [InlineData("transposed")]
    [InlineData("misnamed")]
    public void AWrongExportFailsTheSameComparison(string defect)
    {
        using var dir = new TempDirectory();
        var (spec, targets) = Base("distilbert", "gelu", dir);
        using var model = Adapt(spec, targets, dir.File("adapter")).Model;
        var (merged, _) = AdapterFolder.Open(dir.File("adapter")).Load(merge: true);
        using (merged)
        using (no_grad())
        {
            var p = merged.Module.named_parameters().ToDictionary(x => x.name.Replace(".base_layer.", "."), x => x.parameter);
            var q = p["distilbert.transformer.layer.0.attention.q_lin.weight"];   // (H, H): a transpose keeps the shape
            var k = p["distilbert.transformer.layer.0.attention.k_lin.weight"];
            if (defect == "transposed") q.copy_(q.t().clone());
            else
            {
                var saved = q.clone();   // q_lin's weight stored under k_lin's name and the reverse
                q.copy_(k);
                k.copy_(saved);
            }
            OnnxModelWriter.Write(dir.File("wrong.onnx"), OnnxClassifierExporter.BuildGraph(merged.Module, merged.Config), [], "test", "0");
        }
        var (ids, mask) = PaddedBatch(model.Config.VocabSize);
        using var guard = no_grad();
        double diff = MaxAbsDiff(model.Classifier!.Classify(ids, mask), Ort.Logits(dir.File("wrong.onnx"), ids, mask, 2));
        output.WriteLine($"{defect}: max |ORT - ours| = {diff:E2}");
        Assert.True(diff > Tolerance, $"a {defect} weight went unnoticed: max diff {diff}");
    }

    [Fact]
    public void ACausalLmAdapterOrAnotherFamilyIsRefusedByName()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("causal"));
        File.WriteAllText(dir.File("causal/adapter_config.json"),
            new PeftAdapterConfig { BaseModelNameOrPath = "builtin:tiny-llama", R = 2, LoraAlpha = 4, TargetModules = ["q_proj"] }.ToJson());
        var causal = Assert.Throws<OnnxExportException>(() => OnnxClassifierExporter.Write(dir.File("causal"), dir.File("out.onnx")));
        Assert.Contains("task_type 'CAUSAL_LM'", causal.Message);

        var config = TinyModels.Config() with { Labels = ["a", "b"] };
        using var llama = new LlamaForSequenceClassification(config);
        var family = Assert.Throws<OnnxExportException>(() => OnnxClassifierExporter.BuildGraph(llama, config));
        Assert.Contains("model_type 'llama'", family.Message);
        Assert.False(File.Exists(dir.File("out.onnx")));
    }

    [Fact]
    public void AnExistingOutputIsKeptUnlessOverwriteIsAsked()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("model.onnx"), "keep");
        Assert.Throws<IOException>(() => OnnxClassifierExporter.Write(dir.Path, dir.File("model.onnx")));
        Assert.Throws<IOException>(() => OnnxClassifierExporter.Write(dir.Path, dir.Path));
        Assert.Equal("keep", File.ReadAllText(dir.File("model.onnx")));
    }

    /// <summary>The base model spec and LoRA targets: builtin:tiny-distilbert, or a tiny BERT folder written here.</summary>
    private static (string Spec, string[] Targets) Base(string family, string activation, TempDirectory dir)
    {
        if (family == "distilbert") return ("builtin:tiny-distilbert", ["q_lin", "v_lin", "lin1"]);
        string folder = dir.File("bert");
        Directory.CreateDirectory(folder);
        // The tokenizer files of the builtin WordPiece model: the loader needs a tokenizer, the test feeds ids.
        string distil = ModelLoader.ResolveFolder("builtin:tiny-distilbert");
        foreach (string file in Directory.GetFiles(distil).Where(f => Path.GetFileName(f) != "config.json" && !f.EndsWith(".safetensors", StringComparison.Ordinal)))
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        var config = new ModelConfig
        {
            ModelType = "bert", VocabSize = File.ReadAllLines(Path.Combine(folder, "vocab.txt")).Length, HiddenSize = 32, IntermediateSize = 64,
            NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 4, HeadDim = 8, MaxPositionEmbeddings = 64, TypeVocabSize = 2,
            LayerNormEps = 1e-12, HiddenAct = activation, Labels = ["negative", "neutral", "positive"],
        };
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJson());
        manual_seed(21);
        using var model = new BertForSequenceClassification(config);
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
                p.copy_(name.EndsWith("LayerNorm.weight", StringComparison.Ordinal) ? 1 + 0.1 * randn_like(p) : 0.2 * randn_like(p));
        }
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), model.named_parameters().Select(p => KeyValuePair.Create(p.name, (Tensor)p.parameter)));
        return (folder, ["query", "value", "dense"]);   // dense: attention.output, intermediate, output and the pooler
    }

    /// <summary>
    /// The base as a classifier with LoRA on <paramref name="targets"/>, B drawn non-zero and the head moved, as
    /// after training; saved as a SEQ_CLS adapter (head in modules_to_save) in <paramref name="adapterFolder"/>.
    /// </summary>
    private static (LoadedModel Model, IReadOnlyDictionary<string, LoraLinear> Lora) Adapt(string spec, string[] targets, string adapterFolder)
    {
        var model = ModelLoader.Load(ModelLoader.ResolveFolder(spec), sequenceClassification: true);
        using var g = new Generator(5);
        var lora = LoraInjector.Inject(model.Module, new LoraSettings(4, 8, 0.0, targets, Generator: g));
        var heads = model.Classifier!.HeadModules;
        using (no_grad())
        {
            foreach (var l in lora.Values) l.B.normal_(0, 0.05, g);
            foreach (var (name, p) in model.Module.named_parameters().Where(p => heads.Any(h => p.name.StartsWith(h + ".", StringComparison.Ordinal))))
                p.add_(empty_like(p).normal_(0, 0.1, g));
        }
        model.Module.eval();
        Directory.CreateDirectory(adapterFolder);
        var config = new PeftAdapterConfig
        {
            BaseModelNameOrPath = spec, TaskType = PeftAdapterConfig.SequenceClassificationTask, R = 4, LoraAlpha = 8, TargetModules = targets, ModulesToSave = heads,
        };
        File.WriteAllText(Path.Combine(adapterFolder, ArtifactFiles.AdapterConfig), config.ToJson());
        ArtifactWriter.WriteWeights(Path.Combine(adapterFolder, ArtifactFiles.AdapterWeights), lora, SequenceClassification.HeadTensors(model.Module, heads));
        return (model, lora);
    }

    /// <summary>Three right-padded rows (lengths 12, 7, 3; pad id 0) and their mask.</summary>
    private static (Tensor Ids, Tensor Mask) PaddedBatch(int vocab)
    {
        int[] lengths = [12, 7, 3];
        var ids = TinyModels.Ids(3, 12, vocab, seed: 17).clamp_min(5);
        var mask = zeros(3, 12, ScalarType.Int64);
        for (int b = 0; b < 3; b++)
        {
            mask[b, ..lengths[b]] = 1;
            ids[b, lengths[b]..] = 0;
        }
        return (ids, mask);
    }

    private static (Tensor Ids, Tensor Mask) UnpaddedBatch(int vocab)
    {
        var ids = TinyModels.Ids(2, 9, vocab, seed: 23).clamp_min(5);
        return (ids, ones_like(ids));
    }

    private static double MaxAbsDiff(Tensor a, Tensor b)
    {
        Assert.Equal(a.shape, b.shape);
        return (a - b).abs().max().item<float>();
    }

    /// <summary>ONNX Runtime (CPU) on an exported classifier.</summary>
    private static class Ort
    {
        public static Tensor Logits(string path, Tensor ids, Tensor mask, int labels)
        {
            using var session = new InferenceSession(path);
            int[] dims = [(int)ids.shape[0], (int)ids.shape[1]];
            var inputs = new List<NamedOnnxValue>
            {
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor(ids.contiguous().data<long>().ToArray(), dims)),
                NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor(mask.contiguous().data<long>().ToArray(), dims)),
            };
            using var results = session.Run(inputs);
            var logits = results.Single(r => r.Name == "logits").AsTensor<float>();
            Assert.Equal([dims[0], labels], logits.Dimensions.ToArray());
            return tensor(logits.ToArray()).reshape(dims[0], labels);
        }
    }
}
