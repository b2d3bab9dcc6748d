using LoraRecipes.Data;
using LoraRecipes.Evaluation;
using LoraRecipes.Models;
using static TorchSharp.torch;

namespace LoraRecipes.Training.Tasks;

/// <summary>
/// Next-token cross-entropy, token-weighted over the update: the head runs only at scored positions, chunk by chunk
/// (<see cref="CausalLoss.FromHidden"/>); packed rows bring their own positions and mask (<see cref="Batch"/>).
/// </summary>
public sealed class CausalLmLoss : ITaskLoss
{
    public static readonly CausalLmLoss Instance = new();

    /// <summary>Positions whose next-token label is scored (the first position never is).</summary>
    public long Units(TokenizedExample example) => ExampleLengths.Scored(example.Labels);

    public IMicroBatch Collate(IReadOnlyList<TokenizedExample> examples, int padId, Device device) => new MicroBatch(Batch.Collate(examples, padId, device));

    private sealed class MicroBatch(Batch batch) : IMicroBatch
    {
        public long Tokens => batch.Tokens;

        public IBatchLoss Forward(nn.Module<Tensor, Tensor> model, long stepUnits)
        {
            var lm = (ICausalLM)model;
            return new Loss(CausalLoss.FromHidden(lm, batch.Hidden(lm), batch.Labels, gradScale: 1.0 / Math.Max(stepUnits, 1)));
        }

        public void Dispose() => batch.Dispose();
    }

    private sealed class Loss(HeadLoss loss) : IBatchLoss
    {
        public double Sum => loss.Sum;
        public void Backward() => loss.Backward();
        public void Dispose() => loss.Dispose();
    }
}
