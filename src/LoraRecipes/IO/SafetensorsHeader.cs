using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;

namespace LoraRecipes.IO;

/// <summary>
/// Parses and validates the untrusted header of a safetensors file, following the reference implementation
/// (huggingface/safetensors, <c>tensor.rs</c>): u64 LE length ≤ 100 MB, UTF-8 JSON object, every tensor's
/// byte range matching its dtype and shape, and the ranges tiling the data section exactly (no overlap, no hole).
/// Every failure is a <see cref="SafetensorsFormatException"/>.
/// </summary>
internal sealed class SafetensorsHeader
{
    /// <summary>The reference's MAX_HEADER_SIZE.</summary>
    internal const long MaxHeaderLength = 100_000_000;

    internal const string MetadataKey = "__metadata__";

    /// <summary>
    /// More dimensions than any real tensor has; the reference sets no limit, but libtorch is not built for
    /// hundred-thousand-dimensional shapes, which a 100 MB header could otherwise declare.
    /// </summary>
    internal const int MaxRank = 64;

    private SafetensorsHeader(long headerLength, IReadOnlyDictionary<string, string> metadata, IReadOnlyList<SafetensorsTensorInfo> tensors)
    {
        HeaderLength = headerLength;
        Metadata = metadata;
        Tensors = tensors;
    }

    /// <summary>N, the JSON length; the data section starts at 8 + N.</summary>
    internal long HeaderLength { get; }

    internal IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>In data order (ascending <see cref="SafetensorsTensorInfo.Begin"/>).</summary>
    internal IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    /// <summary>Reads the header length from the first 8 bytes of a file of <paramref name="fileLength"/> bytes.</summary>
    internal static long ReadHeaderLength(string path, ReadOnlySpan<byte> prefix, long fileLength)
    {
        if (fileLength < 8)
        {
            throw new SafetensorsFormatException(path, $"the file is {fileLength} bytes, shorter than the 8-byte header length");
        }
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderLength)
        {
            throw new SafetensorsFormatException(path, $"header length {n} exceeds the {MaxHeaderLength}-byte (100 MB) limit");
        }
        if ((long)n > fileLength - 8)
        {
            throw new SafetensorsFormatException(path, $"header length {n} goes beyond the end of the file ({fileLength} bytes)");
        }
        return (long)n;
    }

    /// <summary>Parses the <paramref name="json"/> header of a file of <paramref name="fileLength"/> bytes.</summary>
    internal static SafetensorsHeader Parse(string path, ReadOnlyMemory<byte> json, long fileLength)
    {
        long dataLength = fileLength - 8 - json.Length;
        using JsonDocument document = ParseJson(path, json);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var tensors = new List<SafetensorsTensorInfo>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonProperty property in document.RootElement.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                throw new SafetensorsFormatException(path, $"duplicate key '{property.Name}' in the header JSON");
            }
            if (property.Name == MetadataKey)
            {
                ReadMetadata(path, property.Value, metadata);
                continue;
            }
            tensors.Add(ReadTensor(path, property.Name, property.Value, dataLength));
        }
        CheckTiling(path, tensors, dataLength);
        return new SafetensorsHeader(json.Length, metadata, tensors);
    }

    private static JsonDocument ParseJson(string path, ReadOnlyMemory<byte> json)
    {
        if (!Utf8.IsValid(json.Span))
        {
            throw new SafetensorsFormatException(path, "the header is not valid UTF-8");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(path, $"the header is not valid JSON ({e.Message})", inner: e);
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            JsonValueKind kind = document.RootElement.ValueKind;
            document.Dispose();
            throw new SafetensorsFormatException(path, $"the header JSON is {Describe(kind)}, not an object");
        }
        return document;
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(path, $"'{MetadataKey}' is {Describe(value.ValueKind)}, not an object of strings");
        }
        foreach (JsonProperty entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
            {
                throw new SafetensorsFormatException(path, $"'{MetadataKey}' value '{entry.Name}' is {Describe(entry.Value.ValueKind)}, not a string");
            }
            if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
            {
                throw new SafetensorsFormatException(path, $"duplicate key '{entry.Name}' in '{MetadataKey}'");
            }
        }
    }

    private static SafetensorsTensorInfo ReadTensor(string path, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(path, $"the entry is {Describe(value.ValueKind)}, not an object", name);
        }
        var fields = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonProperty field in value.EnumerateObject())
        {
            if (!fields.Add(field.Name))
            {
                throw new SafetensorsFormatException(path, $"duplicate field '{field.Name}'", name);
            }
        }
        SafetensorsDType dtype = ReadDType(path, name, Field(path, name, value, "dtype"));
        long[] shape = ReadIntegers(path, name, Field(path, name, value, "shape"), "shape", expectedCount: null);
        if (shape.Length > MaxRank)
        {
            throw new SafetensorsFormatException(path, $"shape has {shape.Length} dimensions, more than the {MaxRank} allowed", name);
        }
        long[] offsets = ReadIntegers(path, name, Field(path, name, value, "data_offsets"), "data_offsets", expectedCount: 2);
        (long begin, long end) = (offsets[0], offsets[1]);

        if (begin > end)
        {
            throw new SafetensorsFormatException(path, $"data_offsets [{begin}, {end}] end before they begin", name);
        }
        if (end > dataLength)
        {
            throw new SafetensorsFormatException(path, $"data_offsets [{begin}, {end}] lie outside the data section ({dataLength} bytes)", name);
        }
        long expected = ByteLength(path, name, dtype, shape);
        if (end - begin != expected)
        {
            throw new SafetensorsFormatException(path,
                $"data_offsets [{begin}, {end}] span {end - begin} bytes but {dtype}[{string.Join(", ", shape)}] needs {expected}", name);
        }
        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    private static JsonElement Field(string path, string name, JsonElement entry, string field)
    {
        if (!entry.TryGetProperty(field, out JsonElement value))
        {
            throw new SafetensorsFormatException(path, $"missing field '{field}'", name);
        }
        return value;
    }

    private static SafetensorsDType ReadDType(string path, string name, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            throw new SafetensorsFormatException(path, $"'dtype' is {Describe(value.ValueKind)}, not a string", name);
        }
        string text = value.GetString()!;
        if (!SafetensorsDTypes.TryParse(text, out SafetensorsDType dtype))
        {
            throw new SafetensorsFormatException(path,
                $"unknown dtype '{text}' (supported: {string.Join(", ", Enum.GetNames<SafetensorsDType>())})", name);
        }
        return dtype;
    }

    private static long[] ReadIntegers(string path, string name, JsonElement value, string field, int? expectedCount)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw new SafetensorsFormatException(path, $"'{field}' is {Describe(value.ValueKind)}, not an array", name);
        }
        int count = value.GetArrayLength();
        if (expectedCount is { } n && count != n)
        {
            throw new SafetensorsFormatException(path, $"'{field}' has {count} elements, expected {n}", name);
        }
        var result = new long[count];
        int i = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0)
            {
                throw new SafetensorsFormatException(path,
                    $"'{field}'[{i}] is {item.GetRawText()}, not a non-negative integer below 2^63", name);
            }
            result[i++] = v;
        }
        return result;
    }

    /// <summary>product(shape) × element size, refusing overflow.</summary>
    private static long ByteLength(string path, string name, SafetensorsDType dtype, long[] shape)
    {
        long total = dtype.ElementSize();
        foreach (long dim in shape)
        {
            // Like the reference's checked_mul fold: an overflow is an error even if a later dimension is 0.
            if (dim != 0 && total > long.MaxValue / dim)
            {
                throw new SafetensorsFormatException(path, $"shape [{string.Join(", ", shape)}] overflows: its byte size exceeds 2^63", name);
            }
            total *= dim;
        }
        return total;
    }

    /// <summary>Sorted by offsets, each range must start where the previous ended and the last must end the file.</summary>
    private static void CheckTiling(string path, List<SafetensorsTensorInfo> tensors, long dataLength)
    {
        tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expectedBegin = 0;
        SafetensorsTensorInfo? previous = null;
        foreach (SafetensorsTensorInfo t in tensors)
        {
            if (t.Begin < expectedBegin)
            {
                throw new SafetensorsFormatException(path,
                    $"data_offsets [{t.Begin}, {t.End}] overlap tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]", t.Name);
            }
            if (t.Begin > expectedBegin)
            {
                throw new SafetensorsFormatException(path,
                    $"data_offsets [{t.Begin}, {t.End}] leave a hole: bytes [{expectedBegin}, {t.Begin}) of the data section belong to no tensor", t.Name);
            }
            expectedBegin = t.End;
            previous = t;
        }
        if (expectedBegin != dataLength)
        {
            throw new SafetensorsFormatException(path,
                $"the tensors cover {expectedBegin} bytes but the data section is {dataLength} bytes: bytes [{expectedBegin}, {dataLength}) belong to no tensor");
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "undefined",
    };
}
