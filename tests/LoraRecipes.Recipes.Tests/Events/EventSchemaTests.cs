using System.Text.Json;
using System.Text.Json.Serialization;
using LoraRecipes.Events;
using Snapshooter;
using Snapshooter.Xunit;

namespace LoraRecipes.Recipes.Tests.Events;

/// <summary>The NDJSON event schema (docs/events.md) pinned: a renamed field or type fails here before it reaches a reader.</summary>
public sealed class EventSchemaTests
{
    private static string Ndjson() => string.Concat(EventSamples.All.Select(e => EventJson.Serialize(e) + "\n"));

    [Fact]
    public void OneEventOfEachTypeSerialisesToThePinnedLines() =>
        // Update deliberately (delete the .snap file and rerun) and follow the versioning rule of docs/events.md.
        Snapshot.Match(Ndjson(), SnapshotNameExtension.Create("v" + EventJson.SchemaVersion));

    [Fact]
    public void TheSamplesCoverEveryEventType()
    {
        var sampled = EventSamples.All.Select(e => (string)JsonDocument.Parse(EventJson.Serialize(e)).RootElement.GetProperty("type").GetString()!);
        Assert.Equal(EventJson.KnownTypes.Order(StringComparer.Ordinal), sampled.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void EveryLineStartsWithItsTypeAndTheSchemaVersion()
    {
        foreach (var e in EventSamples.All)
        {
            string line = EventJson.Serialize(e);
            Assert.DoesNotContain('\n', line);
            Assert.Matches("^\\{\"type\":\"[a-z_]+\",\"v\":1,", line);
        }
    }

    [Fact]
    public void EachLineReadsBackAsTheSameEvent()
    {
        foreach (var e in EventSamples.All)
        {
            var parsed = EventJson.Parse(EventJson.Serialize(e));
            Assert.Null(parsed.Error);
            Assert.Equal(e.GetType(), parsed.Event!.GetType());
            Assert.Equal(EventJson.Serialize(e), EventJson.Serialize(parsed.Event));
        }
    }

    [Fact]
    public void NonFiniteNumbersSurviveAsNamedLiterals()
    {
        var e = new EvaluationCompleted(0, double.PositiveInfinity, double.NaN, 0);
        string line = EventJson.Serialize(e);
        Assert.Contains("\"loss\":\"Infinity\",\"perplexity\":\"NaN\"", line);
        var back = (EvaluationCompleted)EventJson.Parse(line).Event!;
        Assert.True(double.IsPositiveInfinity(back.Loss) && double.IsNaN(back.Perplexity));
    }

    [Fact]
    public void DocsEventsShowsEveryTypeWithItsExampleLine()
    {
        string doc = File.ReadAllText(Path.Combine(ShippedRecipesTests.RepositoryRoot(), "docs", "events.md"));
        foreach (string line in Ndjson().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.True(doc.Contains(line, StringComparison.Ordinal), $"docs/events.md lacks the example line:\n{line}");
        Assert.Contains($"Schema version: {EventJson.SchemaVersion}", doc);
    }

    [Fact]
    public void EveryTypeIsDeclaredOnTheBaseRecord()
    {
        var derived = typeof(TrainingEvent).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(TrainingEvent)) && !t.IsAbstract);
        var declared = typeof(TrainingEvent).GetCustomAttributes(typeof(JsonDerivedTypeAttribute), false).Select(a => ((JsonDerivedTypeAttribute)a).DerivedType);
        Assert.Equal(derived.OrderBy(t => t.Name), declared.OrderBy(t => t.Name));
    }
}
