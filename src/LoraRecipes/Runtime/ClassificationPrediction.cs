namespace LoraRecipes.Runtime;

/// <summary>What <see cref="LoraModel.Classify"/> returns: the predicted label, its probability, and every label's probability.</summary>
/// <param name="Label">The most probable class name (<c>id2label</c>).</param>
/// <param name="Probability">Its softmax probability.</param>
/// <param name="Probabilities">Every class's probability, by name; they sum to 1.</param>
public sealed record ClassificationPrediction(string Label, float Probability, IReadOnlyDictionary<string, float> Probabilities);
