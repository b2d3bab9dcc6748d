using LoraRecipes.Recipes;

namespace LoraRecipes.Training;

/// <summary>Warmup then linear, cosine or constant, as HF's get_*_schedule_with_warmup.</summary>
/// <param name="Kind">The recipe's <c>training.scheduler</c>, as parsed (no string in between).</param>
/// <param name="PeakLearningRate">training.learning_rate, reached at the end of warmup.</param>
/// <param name="WarmupSteps">Updates of linear warmup from near zero.</param>
/// <param name="TotalSteps">Updates in the run; the decay reaches zero there.</param>
public sealed record LearningRateSchedule(LrScheduler Kind, double PeakLearningRate, int WarmupSteps, int TotalSteps)
{
    /// <summary>Warmup steps for a ratio of the total: ceil(ratio · total).</summary>
    public static int WarmupFor(double ratio, int totalSteps) => (int)Math.Ceiling(ratio * totalSteps);

    /// <summary>The learning rate for the update with 0-based index <paramref name="step"/>.</summary>
    public double At(int step)
    {
        if (step < WarmupSteps) return PeakLearningRate * (step + 1) / (WarmupSteps + 1.0);
        double progress = TotalSteps <= WarmupSteps ? 1.0 : (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps);
        return Kind switch
        {
            LrScheduler.Linear => PeakLearningRate * Math.Max(0.0, 1 - progress),
            LrScheduler.Cosine => PeakLearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress)),
            LrScheduler.Constant => PeakLearningRate,
            _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "not a training.scheduler value"),
        };
    }
}
