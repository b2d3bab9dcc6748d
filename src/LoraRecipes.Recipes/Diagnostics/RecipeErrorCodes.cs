namespace LoraRecipes.Recipes;

/// <summary>
/// The stable diagnostic codes of recipe loading and planning. Codes are never reused or renumbered;
/// <c>ERROR-CODES.md</c> next to this project lists them with their typical fix.
/// </summary>
public static class RecipeErrorCodes
{
    /// <summary>The file is not valid YAML (the position is where the parser gave up).</summary>
    public const string YamlSyntax = "LORA001";

    /// <summary>The recipe file, or a file named by <c>extends:</c>, does not exist or cannot be read.</summary>
    public const string FileNotFound = "LORA002";

    /// <summary>The recipe file is larger than 4 MB: recipes are small; data belongs in data files.</summary>
    public const string FileTooLarge = "LORA003";

    /// <summary>A single YAML scalar is longer than 1 MB.</summary>
    public const string ScalarTooLarge = "LORA004";

    /// <summary>Maps and lists are nested deeper than 64 levels.</summary>
    public const string NestingTooDeep = "LORA005";

    /// <summary>Aliases (<c>*name</c>) expand to more than 100,000 nodes (an "alias bomb"), or name no anchor.</summary>
    public const string AliasExpansion = "LORA006";

    /// <summary>The file is empty, holds several YAML documents, or its top level is not a map of keys.</summary>
    public const string NotARecipe = "LORA007";

    /// <summary>The same key appears twice in one map.</summary>
    public const string DuplicateKey = "LORA008";

    /// <summary>A key is not a plain string (a list or map used as a key).</summary>
    public const string InvalidKey = "LORA009";

    /// <summary>A key the schema does not know (usually a typo; the message suggests the closest key).</summary>
    public const string UnknownKey = "LORA010";

    /// <summary>A required key (<c>name</c>, <c>base_model</c>, <c>data.train</c>) is missing.</summary>
    public const string MissingRequiredKey = "LORA011";

    /// <summary>A value has the wrong type: text where a number is expected, a list where a map is expected…</summary>
    public const string WrongType = "LORA012";

    /// <summary>A number is outside its allowed range (for example <c>lora.dropout</c> must be in [0, 1)).</summary>
    public const string OutOfRange = "LORA013";

    /// <summary>A value is not one of the allowed choices (the message lists them).</summary>
    public const string InvalidChoice = "LORA014";

    /// <summary>A string has the wrong shape: <c>name</c>, <c>base_model</c> or <c>training.device</c>.</summary>
    public const string InvalidFormat = "LORA015";

    /// <summary>A <c>re:</c> entry of <c>lora.target_modules</c> is not a valid regular expression.</summary>
    public const string InvalidRegex = "LORA016";

    /// <summary>A chain of <c>extends:</c> comes back to a file already in the chain.</summary>
    public const string ExtendsCycle = "LORA017";

    /// <summary>An override is not of the form <c>key.path=value</c>, or names a key that cannot be overridden.</summary>
    public const string InvalidOverride = "LORA018";

    /// <summary>An override names a key path the schema does not know.</summary>
    public const string UnknownOverridePath = "LORA019";

    /// <summary>A data file (<c>data.train</c> or <c>data.validation</c>) does not exist.</summary>
    public const string DataFileNotFound = "LORA020";

    /// <summary>The <c>base_model</c> folder does not exist or has no <c>config.json</c>.</summary>
    public const string BaseModelNotFound = "LORA021";

    /// <summary>An input file exists but could not be read while hashing it.</summary>
    public const string InputUnreadable = "LORA022";

    /// <summary>Two values contradict each other (for example <c>task: sequence-classification</c> with <c>data.format: alpaca</c>).</summary>
    public const string Conflict = "LORA023";

    /// <summary>Warning: a value is set but has no effect (for example <c>data.validation_split</c> when <c>data.validation</c> is given).</summary>
    public const string IgnoredValue = "LORA024";
}
