namespace LoraRecipes.Training;

/// <summary>Warmup then linear, cosine or constant, as HF's get_*_schedule_with_warmup.</summary>
public sealed record LearningRateSchedule(string Kind, double PeakLearningRate, int WarmupSteps, int TotalSteps)
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
            "constant" => PeakLearningRate,
            "cosine" => PeakLearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress)),
            _ => PeakLearningRate * Math.Max(0.0, 1 - progress),
        };
    }
}
