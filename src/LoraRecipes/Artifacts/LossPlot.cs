using System.Text.Json;
using LoraRecipes.Events;
using ScottPlot;

namespace LoraRecipes.Artifacts;

/// <summary>Training and validation loss against step: the points behind <c>loss.png</c>.</summary>
/// <param name="Train">(step, loss) of every logged optimizer step.</param>
/// <param name="Validation">(step, loss) of every evaluation (step 0 is before training).</param>
public sealed record LossCurves(IReadOnlyList<(int Step, double Loss)> Train, IReadOnlyList<(int Step, double Loss)> Validation)
{
    /// <summary>The curves of a run's events (<see cref="StepCompleted"/>, <see cref="EvaluationCompleted"/>).</summary>
    public static LossCurves From(IEnumerable<TrainingEvent> events)
    {
        var list = events.ToList();
        return new LossCurves(
            list.OfType<StepCompleted>().Select(s => (s.Step, s.Loss)).ToList(),
            list.OfType<EvaluationCompleted>().Select(e => (e.Step, e.Loss))
                .Concat(list.OfType<ClassificationEvaluated>().Select(e => (e.Step, e.Loss))).ToList());
    }

    /// <summary>The curves of a <c>metrics.jsonl</c> file (lines of type train and eval).</summary>
    public static LossCurves FromJsonLines(string path)
    {
        var train = new List<(int, double)>();
        var validation = new List<(int, double)>();
        foreach (string line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (!root.TryGetProperty("type", out var type) || !root.TryGetProperty("step", out var step) || !root.TryGetProperty("loss", out var loss)) continue;
            if (loss.ValueKind != JsonValueKind.Number) continue;
            var point = (step.GetInt32(), loss.GetDouble());
            if (type.GetString() == "train") train.Add(point);
            else if (type.GetString() == "eval") validation.Add(point);
        }
        return new LossCurves(train, validation);
    }
}

/// <summary>Draws <c>loss.png</c> with ScottPlot: train loss as a line, validation loss as a line with markers.</summary>
public static class LossPlot
{
    /// <summary>The file name in the artifact folder.</summary>
    public const string FileName = Recipes.Artifacts.ArtifactFiles.LossPlot;

    public const int Width = 800;
    public const int Height = 450;

    /// <summary>Writes the PNG for a run's events to <paramref name="path"/>.</summary>
    public static void Write(string path, MetricsLog log) => File.WriteAllBytes(path, Png(LossCurves.From(log.Events)));

    /// <summary>The PNG bytes.</summary>
    public static byte[] Png(LossCurves curves, string? title = null) =>
        Build(curves, title).GetImageBytes(Width, Height, ImageFormat.Png);

    /// <summary>The same figure as SVG text (for HTML reports).</summary>
    public static string Svg(LossCurves curves, string? title = null) => Build(curves, title).GetSvgXml(Width, Height);

    private static Plot Build(LossCurves curves, string? title)
    {
        var plot = new Plot();
        plot.Title(title ?? "Loss");
        plot.XLabel("step");
        plot.YLabel("loss");
        if (curves.Train.Count > 0)
        {
            var train = plot.Add.Scatter(curves.Train.Select(p => (double)p.Step).ToArray(), curves.Train.Select(p => p.Loss).ToArray());
            train.LegendText = "train";
            train.MarkerSize = curves.Train.Count > 50 ? 0 : 4;
            train.LineWidth = 1.5f;
        }
        if (curves.Validation.Count > 0)
        {
            var validation = plot.Add.Scatter(curves.Validation.Select(p => (double)p.Step).ToArray(), curves.Validation.Select(p => p.Loss).ToArray());
            validation.LegendText = "validation";
            validation.MarkerSize = 7;
            validation.LineWidth = 2;
        }
        if (curves.Train.Count == 0 && curves.Validation.Count == 0)
            plot.Add.Annotation("no loss was logged", Alignment.MiddleCenter);
        else
            plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }
}
