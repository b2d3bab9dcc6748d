namespace LoraRecipes.IO.Onnx;

/// <summary>
/// Writes an ONNX <c>ModelProto</c> (onnx.proto: ir_version = 1, producer_name = 2, producer_version = 3, graph = 7,
/// opset_import = 8 { domain = 1, version = 2 }, metadata_props = 14 { key = 1, value = 2 }) atomically: a temp file
/// in the target's folder, flushed, then renamed over the target.
/// </summary>
public static class OnnxModelWriter
{
    /// <summary>The default-domain opset the exporters target (LayerNormalization needs 17).</summary>
    public const int Opset = 17;

    /// <summary>IR version 8 is the one that introduced opset 17 (ONNX 1.12); every ONNX Runtime since 1.12 reads it.</summary>
    public const int IrVersion = 8;

    /// <summary>Protobuf refuses messages of 2 GiB or more; past that ONNX needs external data files, not written here.</summary>
    public const long MaxBytes = int.MaxValue;

    /// <summary>Writes <paramref name="graph"/> with <paramref name="metadata"/> to <paramref name="path"/>; returns the file size.</summary>
    /// <exception cref="IOException">The model would reach protobuf's 2 GiB limit.</exception>
    public static long Write(string path, OnnxGraphBuilder graph, IEnumerable<KeyValuePair<string, string>> metadata, string producerName, string producerVersion)
    {
        var model = new ProtobufWriter()
            .Varint(1, IrVersion)
            .String(2, producerName)
            .String(3, producerVersion)
            .Message(7, graph.ToProto())
            .Message(8, new ProtobufWriter().String(1, "").Varint(2, Opset));
        foreach (var (key, value) in metadata) model.Message(14, new ProtobufWriter().String(1, key).String(2, value));
        if (model.Size >= MaxBytes)
            throw new IOException($"the ONNX model would be {model.Size / (1 << 20)} MiB; a single ONNX protobuf file must stay under 2 GiB " +
                "(external-data export is not supported): export a smaller model, or use the merged Hugging Face checkpoint (--format hf).");
        AtomicFile.Write(path, model.WriteTo);
        return model.Size;
    }
}
