using System.Globalization;
using System.Text;
using System.Text.Json;
using LoraRecipes.Events;

namespace LoraRecipes.Artifacts;

/// <summary>
/// The run's metrics as <c>metrics.jsonl</c>: one JSON object per logged step, evaluation and sample. A consumer of the
/// trainer's events (<see cref="TrainingEvent"/>): it keeps those it records and ignores the rest.
/// </summary>
/// <remarks>The file's shape (types <c>train</c>, <c>eval</c>, <c>sample</c>; <c>lr</c>, <c>tokens_per_s</c>) predates the event
/// stream and is kept as it is: reports and users read it.</remarks>
public sealed class MetricsLog
{
    private readonly List<TrainingEvent> _events = new();

    public MetricsLog()
    {
    }

    /// <summary>A log of <paramref name="events"/> (those of other types are ignored).</summary>
    public MetricsLog(IEnumerable<TrainingEvent> events)
    {
        foreach (var e in events) Add(e);
    }

    /// <summary>Everything logged so far, in order.</summary>
    public IReadOnlyList<TrainingEvent> Events => _events;

    /// <summary>Records a step, an evaluation or a sample; other events are not metrics.</summary>
    public void Add(TrainingEvent e)
    {
        if (e is StepCompleted or EvaluationCompleted or ClassificationEvaluated or SampleGenerated) _events.Add(e);
    }

    /// <summary>The JSON Lines text.</summary>
    public string ToJsonLines()
    {
        var sb = new StringBuilder();
        foreach (var e in _events)
        {
            object? line = e switch
            {
                StepCompleted s => new { type = "train", step = s.Step, epoch = Math.Round(s.Epoch, 4), loss = s.Loss, lr = s.LearningRate, grad_norm = s.GradNorm, tokens_per_s = Math.Round(s.TokensPerSecond, 1), tokens = s.Tokens },
                EvaluationCompleted { Generation: { } g } v => new { type = "eval", step = v.Step, loss = v.Loss, perplexity = v.Perplexity, tokens = v.Tokens, generation = g },
                EvaluationCompleted v => new { type = "eval", step = v.Step, loss = v.Loss, perplexity = v.Perplexity, tokens = v.Tokens },
                ClassificationEvaluated c => new { type = "eval", step = c.Step, loss = c.Loss, accuracy = c.Accuracy, f1 = c.MacroF1, labels = c.Labels, confusion_matrix = c.Confusion, examples = c.Examples },
                SampleGenerated g => new { type = "sample", step = g.Step, prompt = g.Prompt, completion = g.Completion },
                _ => null,
            };
            if (line is not null) sb.Append(JsonSerializer.Serialize(line, JsonOptions.Compact)).Append('\n');
        }
        return sb.ToString();
    }
}

/// <summary>Shared JSON settings: UTF-8 text kept readable (Chinese not escaped), invariant numbers.</summary>
internal static class JsonOptions
{
    public static readonly JsonSerializerOptions Compact = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static readonly JsonSerializerOptions Indented = new(Compact) { WriteIndented = true };

    public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
