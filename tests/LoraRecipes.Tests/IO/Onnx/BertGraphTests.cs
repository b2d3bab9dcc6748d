using LoraRecipes.IO.Onnx;
using LoraRecipes.Models.Onnx;

namespace LoraRecipes.Tests.IO.Onnx;

/// <summary>BERT graph import on a hand-built torch.onnx-style graph whose weights are known values.</summary>
public sealed class BertGraphTests
{
    private static ImportedBert Import(TinyBertOnnx tiny) => BertGraph.Import(OnnxReader.Read(tiny.Build(), "tiny.onnx"), "tiny.onnx");

    [Fact]
    public void RecoversTheConfigFromTheShapesAndTheGraph()
    {
        var c = Import(new TinyBertOnnx()).Config;
        Assert.Equal(("bert", TinyBertOnnx.Layers, TinyBertOnnx.H, TinyBertOnnx.Heads, TinyBertOnnx.I, TinyBertOnnx.V, TinyBertOnnx.P, 2, 1e-12, "gelu"),
            (c.ModelType, c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize, c.VocabSize, c.MaxPositionEmbeddings, c.TypeVocabSize, c.LayerNormEps, c.HiddenAct));
    }

    [Fact]
    public void EveryMatMulWeightIsNamedByItsBiasAndTransposedBackToOutIn()
    {
        var tiny = new TinyBertOnnx();
        var imported = Import(tiny);
        Assert.Equal(TinyBertOnnx.Layers * 6, tiny.Linears.Count);
        foreach (var (name, (inF, outF, stored)) in tiny.Linears)
        {
            var (shape, values) = imported.Tensors[name];
            Assert.Equal([outF, inF], shape);
            for (int o = 0; o < outF; o++)
                for (int i = 0; i < inF; i++) Assert.Equal(stored[i * outF + o], values[o * inF + i]);   // W[o, i] = stored[i, o]
        }
    }

    [Fact]
    public void ANamedWeightReadThroughATransposeNodeIsKeptAsStored()
    {
        var tiny = new TinyBertOnnx { NamedTransposedWeights = true };
        var imported = Import(tiny);
        foreach (var (name, (inF, outF, stored)) in tiny.Linears)
        {
            Assert.Equal([outF, inF], imported.Tensors[name].Shape);
            Assert.Equal(stored, imported.Tensors[name].Values);   // already (out, in): no second transpose
        }
    }

    [Fact]
    public void NamedTensorsKeepTheirValuesAndTheGemmWeightStaysOutIn()
    {
        var tiny = new TinyBertOnnx();
        var imported = Import(tiny);
        foreach (var (name, values) in tiny.Named) Assert.Equal(values, imported.Tensors[name].Values);   // incl. pooler.dense.weight (transB = 1)
        Assert.Equal(tiny.Named.Count + tiny.Linears.Count, imported.Tensors.Count);
    }

    [Fact]
    public void AnOperatorOutsideBertIsAnErrorNamingTheNode()
    {
        var e = Assert.Throws<OnnxFormatException>(() => Import(new TinyBertOnnx { RenameOp = op => op == "Erf" ? "Sigmoid" : op }));
        Assert.Contains("Sigmoid", e.Node);
        Assert.Contains("not part of a BERT encoder", e.Message);
    }

    [Fact]
    public void AnAnonymousWeightWithoutANamedBiasIsAnErrorNamingTheMatMul()
    {
        var e = Assert.Throws<OnnxFormatException>(() => Import(new TinyBertOnnx { DropQueryBias = true }));
        Assert.Contains("MatMul", e.Node);
        Assert.Contains("cannot be named", e.Message);
    }

    [Fact]
    public void AShapeThatContradictsTheInferredConfigIsAnErrorNamingTheWeight()
    {
        var e = Assert.Throws<OnnxFormatException>(() => Import(new TinyBertOnnx { QueryOutFeatures = TinyBertOnnx.H + 1 }));
        Assert.StartsWith("encoder.layer.0.attention.self.query.", e.Node);
        Assert.Contains("implies", e.Message);
    }

    [Fact]
    public void ExternalWeightsAreRefusedNamingTheTensor()
    {
        var e = Assert.Throws<OnnxFormatException>(() => Import(new TinyBertOnnx { ExternalWordEmbeddings = true }));
        Assert.Equal("embeddings.word_embeddings.weight", e.Node);
    }
}
