namespace LoraRecipes.Tests.Architecture;

/// <summary>
/// The layer order of the core (src/LoraRecipes), as docs/architecture.md states it: a folder may use the folders of
/// lower tiers only — never its own tier's other folders, never a higher tier. A folder is the second segment of a
/// namespace (<c>LoraRecipes.IO.Onnx</c> is IO).
/// </summary>
public static class LayerRule
{
    /// <summary>Tiers, bottom first.</summary>
    public static IReadOnlyList<string[]> Tiers { get; } =
    [
        ["Native", "Numerics"],   // libtorch loading; seeded random numbers
        ["IO"],                   // file formats: safetensors, ONNX protobuf, atomic files, the hub cache
        ["Tokenization"],
        ["Templating"],           // chat templates (Jinja)
        ["Models"],               // model families, loading, builtin models, ONNX import
        ["Lora"],                 // wraps a model's linear layers
        ["Data"],                 // records → prompts → tokens → batches
        ["Artifacts"],            // the adapter folder: write, open, merge, export
        ["Evaluation"],           // losses, metrics, generation
        ["Training"],             // the trainer
        ["Runtime", "Export"],    // front doors in the core: the runtime API; recipe export to other trainers
    ];

    /// <summary>
    /// Known violations being removed by #13 (A/B): edges in Training/, Artifacts/, Evaluation/ and Runtime/ that the
    /// artifact-contract and event-stream work removes. The test prints each one that still occurs and fails on an
    /// entry that no longer does, so this list can only shrink. Empty it, don't grow it.
    /// </summary>
    public static IReadOnlyList<(string From, string To)> KnownViolations { get; } =
    [
    ];

    /// <summary>The folder a namespace belongs to; null outside <c>LoraRecipes.*</c>.</summary>
    public static string? LayerOf(string typeFullName)
    {
        var parts = typeFullName.Split('.');
        return parts.Length >= 3 && parts[0] == "LoraRecipes" ? parts[1] : null;
    }

    /// <summary>Every dependency between two different folders, with one example type pair (the first by name).</summary>
    public static SortedDictionary<(string From, string To), (string FromType, string ToType)> LayerEdges(IEnumerable<(string From, string To)> typePairs)
    {
        var edges = new SortedDictionary<(string, string), (string, string)>();
        foreach (var (fromType, toType) in typePairs.OrderBy(p => p.From, StringComparer.Ordinal).ThenBy(p => p.To, StringComparer.Ordinal))
        {
            if (LayerOf(fromType) is not { } from || LayerOf(toType) is not { } to || from == to) continue;
            edges.TryAdd((from, to), (fromType, toType));
        }
        return edges;
    }

    /// <summary>
    /// What is wrong with <paramref name="edges"/> under <paramref name="tiers"/>, one line each: a folder no tier
    /// names, an edge that goes sideways or up (unless allowed), a cycle among the edges left, and an allowed
    /// violation that no longer occurs. Empty when the shape holds.
    /// </summary>
    public static List<string> Check(
        IReadOnlyDictionary<(string From, string To), (string FromType, string ToType)> edges,
        IReadOnlyList<string[]> tiers,
        IReadOnlyList<(string From, string To)> allowed)
    {
        var rank = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tiers.Count; i++)
            foreach (string layer in tiers[i]) rank[layer] = i;
        var problems = new List<string>();
        foreach (string layer in edges.Keys.SelectMany(e => new[] { e.From, e.To }).Distinct().Order(StringComparer.Ordinal))
            if (!rank.ContainsKey(layer))
                problems.Add($"folder {layer} has no layer: add it to LayerRule.Tiers and docs/architecture.md");

        foreach (var ((from, to), (fromType, toType)) in edges)
        {
            if (!rank.TryGetValue(from, out int rf) || !rank.TryGetValue(to, out int rt) || rt < rf || allowed.Contains((from, to))) continue;
            string why = rt == rf ? "same tier" : "upward";
            problems.Add($"{from} → {to} ({why}), e.g. {Short(fromType)} → {Short(toType)}");
        }

        foreach (var cycle in Cycles(edges.Keys.Where(e => !allowed.Contains(e))))
        {
            var steps = cycle.Zip(cycle.Skip(1).Append(cycle[0]), (a, b) => $"{a} → {b} ({Short(edges[(a, b)].FromType)} → {Short(edges[(a, b)].ToType)})");
            problems.Add("cycle: " + string.Join(", ", steps));
        }

        foreach (var edge in allowed)
            if (!edges.ContainsKey(edge))
                problems.Add($"{edge.From} → {edge.To} is listed as a known violation but no longer occurs: delete it from LayerRule.KnownViolations");
        return problems;
    }

    // One cycle through each strongly connected component of more than one folder (Tarjan), as a list of folders.
    private static List<List<string>> Cycles(IEnumerable<(string From, string To)> edges)
    {
        var next = edges.GroupBy(e => e.From).ToDictionary(g => g.Key, g => g.Select(e => e.To).Order(StringComparer.Ordinal).ToList());
        var nodes = next.Keys.Concat(next.Values.SelectMany(v => v)).Distinct().Order(StringComparer.Ordinal).ToList();
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var components = new List<HashSet<string>>();
        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            onStack.Add(v);
            foreach (string w in next.GetValueOrDefault(v) ?? [])
            {
                if (!index.ContainsKey(w)) { Visit(w); low[v] = Math.Min(low[v], low[w]); }
                else if (onStack.Contains(w)) low[v] = Math.Min(low[v], index[w]);
            }
            if (low[v] != index[v]) return;
            var component = new HashSet<string>();
            string x;
            do { x = stack.Pop(); onStack.Remove(x); component.Add(x); } while (x != v);
            if (component.Count > 1) components.Add(component);
        }
        foreach (string n in nodes)
            if (!index.ContainsKey(n)) Visit(n);

        // Inside a component every folder reaches every other: walk from its first folder back to it (breadth first).
        var cycles = new List<List<string>>();
        foreach (var component in components)
        {
            string start = component.Order(StringComparer.Ordinal).First();
            var parent = new Dictionary<string, string>();
            var queue = new Queue<string>([start]);
            string? last = null;
            while (queue.Count > 0 && last is null)
            {
                string v = queue.Dequeue();
                foreach (string w in next.GetValueOrDefault(v) ?? [])
                {
                    if (!component.Contains(w)) continue;
                    if (w == start) { last = v; break; }
                    if (parent.TryAdd(w, v)) queue.Enqueue(w);
                }
            }
            var path = new List<string>();
            for (string? v = last; v is not null; v = v == start ? null : parent[v]) path.Add(v);
            path.Reverse();
            cycles.Add(path);
        }
        return cycles;
    }

    private static string Short(string typeFullName) => typeFullName.StartsWith("LoraRecipes.", StringComparison.Ordinal) ? typeFullName["LoraRecipes.".Length..] : typeFullName;
}
