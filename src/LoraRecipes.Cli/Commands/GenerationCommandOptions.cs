using System.CommandLine;
using LoraRecipes.Evaluation;

namespace LoraRecipes.Cli.Commands;

/// <summary>The decoding options <c>generate</c> and <c>chat</c> share.</summary>
internal sealed class GenerationCommandOptions
{
    public Argument<string> Adapter { get; } = new("adapter") { Description = "Adapter folder (adapter_config.json + adapter_model.safetensors)." };
    public Option<string?> Base { get; } = new("--base") { Description = "Base model: builtin:<name> or an HF folder (default: the adapter's base_model_name_or_path)." };
    public Option<int> MaxNewTokens { get; } = new("--max-new-tokens") { Description = "Most tokens to generate.", DefaultValueFactory = _ => 128 };
    public Option<double> Temperature { get; } = new("--temperature") { Description = "Sampling temperature; 0 is greedy.", DefaultValueFactory = _ => 0.0 };
    public Option<double> TopP { get; } = new("--top-p") { Description = "Nucleus sampling mass kept (with --temperature > 0).", DefaultValueFactory = _ => 1.0 };
    public Option<long> Seed { get; } = new("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => 42L };
    public Option<bool> NoTemplate { get; } = new("--no-template") { Description = "Send the prompt as is, without the recipe's prompt template." };

    public void AddTo(Command command)
    {
        command.Arguments.Add(Adapter);
        foreach (var option in new Option[] { Base, MaxNewTokens, Temperature, TopP, Seed, NoTemplate }) command.Options.Add(option);
    }

    /// <summary>The options, or an error message for a value out of range.</summary>
    public (GenerationOptions? Options, string? Error) Read(ParseResult parse)
    {
        int max = parse.GetValue(MaxNewTokens);
        double temperature = parse.GetValue(Temperature), topP = parse.GetValue(TopP);
        if (max < 1) return (null, "--max-new-tokens must be at least 1.");
        if (temperature < 0) return (null, "--temperature must be 0 (greedy) or more.");
        if (topP is <= 0 or > 1) return (null, "--top-p must be in (0, 1].");
        return (new GenerationOptions { MaxNewTokens = max, Temperature = temperature, TopP = topP, Seed = parse.GetValue(Seed) }, null);
    }
}
