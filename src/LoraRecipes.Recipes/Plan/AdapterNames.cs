using System.Text.RegularExpressions;

namespace LoraRecipes.Recipes;

/// <summary>
/// The one naming rule for an adapter's folder, wherever it lands: the recipe's <c>name</c>.
/// <list type="bullet">
/// <item><c>dotnet lora run</c>: <c>artifacts/&lt;name&gt;/</c> beside the recipe (the default of <c>output.dir</c>);</item>
/// <item>MSBuild: <c>$(IntermediateOutputPath)lora/&lt;name&gt;/</c>, copied to <c>$(OutDir)lora/&lt;name&gt;/</c> and to the
/// publish folder's <c>lora/&lt;name&gt;/</c>;</item>
/// <item>the runtime API: <c>LoraModel.LoadBuilt("&lt;name&gt;")</c> opens <c>&lt;app folder&gt;/lora/&lt;name&gt;/</c>.</item>
/// </list>
/// The only way to another name is explicit: <c>AdapterName</c> metadata on a <c>LoraRecipe</c> item. Nothing is derived
/// from the recipe's file name. Names are lower-case (<see cref="Pattern"/>), so a case-sensitive file system and a
/// case-insensitive one find the same folder.
/// </summary>
public static class AdapterNames
{
    /// <summary>The folder under an application's output (and under <c>obj/…/</c>) that holds one folder per adapter.</summary>
    public const string OutputFolder = "lora";

    /// <summary>
    /// The list the build writes beside the adapter folders (<c>lora/adapters.txt</c>): the name of every adapter of the
    /// project's <c>LoraRecipe</c> items, one per line, so the runtime opens all of them (<c>LoraModel.LoadAllBuilt()</c>).
    /// </summary>
    public const string ListFile = "adapters.txt";

    /// <summary>The <c>LoraRecipe</c> item metadata that names the adapter instead of the recipe's <c>name</c>.</summary>
    public const string NameMetadata = "AdapterName";

    /// <summary>The default of <c>output.dir</c>; <c>{name}</c> is the recipe's name.</summary>
    public const string DefaultArtifactsDir = "artifacts/{name}";

    /// <summary>What a name (recipe <c>name</c> or <c>AdapterName</c>) may contain: lower-case letters, digits, <c>. _ -</c>.</summary>
    public const string Pattern = "^[a-z0-9._-]+$";

    private static readonly Regex Valid = new(Pattern, RegexOptions.CultureInvariant);

    /// <summary>The adapter's name: <paramref name="explicitName"/> when given (non-blank), else the recipe's <c>name</c>.</summary>
    public static string For(Recipe recipe, string? explicitName = null)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        return string.IsNullOrWhiteSpace(explicitName) ? recipe.Name : explicitName.Trim();
    }

    /// <summary>Null when <paramref name="name"/> is a valid adapter name, else why not (for an error message).</summary>
    public static string? Problem(string name)
    {
        if (string.IsNullOrEmpty(name)) return "an adapter name cannot be empty";
        if (name is "." or "..") return $"'{name}' is not a folder name";
        if (!Valid.IsMatch(name))
        {
            string lower = name.ToLowerInvariant();
            return Valid.IsMatch(lower) && lower is not ("." or "..")
                ? $"'{name}' has upper-case letters; adapter names are lower-case (use '{lower}') so every file system finds the same folder"
                : $"'{name}' may only contain lower-case letters, digits, '.', '_' and '-'";
        }
        return null;
    }

    /// <summary><c>lora/&lt;name&gt;/</c>: the adapter's folder relative to an output folder, with forward slashes (MSBuild <c>TargetPath</c>).</summary>
    public static string RelativeFolder(string name) => $"{OutputFolder}/{name}/";

    /// <summary><c>&lt;outputFolder&gt;/lora/&lt;name&gt;</c>: the adapter's folder under an application's (or <c>obj/…/</c>) folder.</summary>
    public static string FolderIn(string outputFolder, string name) => Path.Combine(outputFolder, OutputFolder, name);
}
