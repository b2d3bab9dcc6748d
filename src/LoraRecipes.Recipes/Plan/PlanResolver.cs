using System.Text.RegularExpressions;
using LoraRecipes.Recipes.Schema;

namespace LoraRecipes.Recipes;

/// <summary>Turns a <see cref="Recipe"/> into a <see cref="TrainingPlan"/> (see <see cref="TrainingPlan.Resolve"/>).</summary>
internal static partial class PlanResolver
{
    /// <summary>The files of an HF folder that loading reads (weights, config, tokenizer), when present.</summary>
    internal static readonly string[] ModelFileNames =
    [
        "config.json", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json", "vocab.json",
        "merges.txt", "tokenizer.model", "vocab.txt", "special_tokens_map.json", "generation_config.json",
    ];

    public static PlanResult Resolve(Recipe recipe, PlanOptions options)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(options);
        var diagnostics = new List<RecipeDiagnostic>();
        var origin = recipe.Origin;
        var directory = origin.Directory;

        recipe = ApplyDevice(recipe, options.DeviceOverride, diagnostics);
        var baseModel = ResolveBaseModel(recipe, directory, diagnostics);
        var inputs = new List<InputFile>();
        var train = ResolveData("data.train", recipe.Data.Train, recipe, directory, inputs, diagnostics);
        var validation = recipe.Data.Validation is { } v ? ResolveData("data.validation", v, recipe, directory, inputs, diagnostics) : null;
        if (baseModel is { Kind: BaseModelKind.Folder, Path: { } folder })
        {
            HashModelFiles(folder, recipe, inputs, diagnostics);
        }

        if (baseModel is null || diagnostics.Any(d => d.IsError))
        {
            return new PlanResult(null, diagnostics);
        }

        var output = options.OutputDirOverride is { } dir ? Path.GetFullPath(dir) : Path.GetFullPath(Path.Combine(directory, recipe.Output.Dir));
        var plan = new TrainingPlan
        {
            Recipe = recipe,
            RecipePath = origin.FullPath,
            RecipeDirectory = directory,
            Overrides = origin.Overrides,
            BaseModel = baseModel,
            TrainPath = train!,
            ValidationPath = validation,
            OutputDirectory = output,
            InputFiles = inputs,
            ToolVersion = options.ToolVersion,
            BuiltinModelVersion = options.BuiltinModelVersion,
            Fingerprint = "",
        };
        return new PlanResult(plan with { Fingerprint = FileHasher.HashText(PlanWriter.ToCanonicalJson(plan)) }, diagnostics);
    }

    private static Recipe ApplyDevice(Recipe recipe, string? device, List<RecipeDiagnostic> diagnostics)
    {
        if (device is null)
        {
            return recipe;
        }

        var entry = RecipeSchema.Get("training.device");
        if (!Regex.IsMatch(device, entry.Pattern!))
        {
            diagnostics.Add(RecipeDiagnostic.Error(new SourceLocation("--device", 1, 1), RecipeErrorCodes.InvalidFormat,
                $"Device must be one of {string.Join(", ", entry.Allowed)}, got '{device}'", "Use auto, cpu, cuda or cuda:0."));
            return recipe;
        }

        return recipe with { Training = recipe.Training with { Device = device } };
    }

    private static BaseModelReference? ResolveBaseModel(Recipe recipe, string directory, List<RecipeDiagnostic> diagnostics)
    {
        var text = recipe.BaseModel;
        var at = recipe.Origin.LocationOf("base_model");
        if (text.StartsWith(BaseModelReference.BuiltinPrefix, StringComparison.Ordinal))
        {
            var name = text[BaseModelReference.BuiltinPrefix.Length..];
            if (BuiltinName().IsMatch(name))
            {
                return new BaseModelReference(BaseModelKind.Builtin, name);
            }

            diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.InvalidFormat,
                $"'{text}' is not a builtin model name", "Write builtin:<name> with lowercase letters, digits, '.', '_' or '-', e.g. builtin:tiny-llama."));
            return null;
        }

        var expanded = text.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), text[2..])
            : text;
        var folder = Path.GetFullPath(Path.Combine(directory, expanded));
        var hub = HubId().Match(text);
        if (hub.Success && !Directory.Exists(folder))
        {
            var revision = hub.Groups["rev"].Success ? hub.Groups["rev"].Value : null;
            return new BaseModelReference(BaseModelKind.Hub, hub.Groups["id"].Value, Revision: revision);
        }

        if (!File.Exists(Path.Combine(folder, "config.json")))
        {
            var what = Directory.Exists(folder) ? $"Model folder '{text}' has no config.json" : $"Model folder '{text}' does not exist";
            diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.BaseModelNotFound, $"{what} (looked in {folder})",
                "Point base_model at a Hugging Face checkpoint folder (relative to the recipe), a hub id org/name[@revision], or builtin:<name>."));
            return null;
        }

        return new BaseModelReference(BaseModelKind.Folder, text, folder);
    }

    private static string? ResolveData(string key, string written, Recipe recipe, string directory, List<InputFile> inputs, List<RecipeDiagnostic> diagnostics)
    {
        var path = Path.GetFullPath(Path.Combine(directory, written));
        var at = recipe.Origin.LocationOf(key);
        if (!File.Exists(path))
        {
            diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.DataFileNotFound,
                $"{key} file '{written}' does not exist (looked in {path})", "Paths are relative to the recipe's folder."));
            return null;
        }

        AddInput(key, path, at, inputs, diagnostics);
        return path;
    }

    private static void HashModelFiles(string folder, Recipe recipe, List<InputFile> inputs, List<RecipeDiagnostic> diagnostics)
    {
        var at = recipe.Origin.LocationOf("base_model");
        var names = ModelFileNames.Where(n => File.Exists(Path.Combine(folder, n)))
            .Concat(Directory.EnumerateFiles(folder, "*.safetensors").Select(f => Path.GetFileName(f)!))
            .Distinct()
            .Order(StringComparer.Ordinal);
        foreach (var name in names)
        {
            AddInput($"base_model/{name}", Path.Combine(folder, name), at, inputs, diagnostics);
        }
    }

    private static void AddInput(string role, string path, SourceLocation at, List<InputFile> inputs, List<RecipeDiagnostic> diagnostics)
    {
        try
        {
            var (sha, size) = FileHasher.Hash(path);
            inputs.Add(new InputFile(role, path, sha, size));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(RecipeDiagnostic.Error(at, RecipeErrorCodes.InputUnreadable,
                $"Cannot read {role} ({path}): {e.Message.TrimEnd('.')}", "Check the file's permissions and that no other process holds it."));
        }
    }

    [GeneratedRegex("^[a-z0-9._-]+$")]
    private static partial Regex BuiltinName();

    // org/name[@revision], as the hub spells ids; anything else is a folder path.
    [GeneratedRegex(@"^(?<id>[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)(@(?<rev>[A-Za-z0-9_./-]+))?$")]
    private static partial Regex HubId();
}
