using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LoraRecipes.Lora;

/// <summary>
/// PyTorch's default initialisation drawn from a run's generator (TorchSharp's <c>nn.init</c> functions ignore it, so a
/// resumed or repeated run would not draw the same numbers): what the prompt-learning encoders start from.
/// </summary>
internal static class SeededInit
{
    /// <summary>
    /// Every linear among <paramref name="modules"/> as <c>torch.nn.Linear.reset_parameters</c>: weight kaiming-uniform(a = √5),
    /// i.e. U(±1/√fan_in), and bias U(±1/√fan_in). Call under <c>no_grad</c>.
    /// </summary>
    public static void Linears(IEnumerable<nn.Module> modules, Generator? generator)
    {
        foreach (var linear in modules.OfType<Linear>())
        {
            double bound = 1.0 / Math.Sqrt(linear.weight!.shape[1]);
            linear.weight!.uniform_(-bound, bound, generator);
            linear.bias?.uniform_(-bound, bound, generator);
        }
    }
}
