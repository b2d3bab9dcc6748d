namespace LoraRecipes.Recipes;

/// <summary>How <c>base_model</c> names the model.</summary>
public enum BaseModelKind
{
    /// <summary><c>builtin:&lt;name&gt;</c>: a small generated model.</summary>
    Builtin,

    /// <summary>A Hugging Face checkpoint folder on disk.</summary>
    Folder,

    /// <summary>A hub id <c>org/name[@revision]</c>, downloaded into the HF cache.</summary>
    Hub,
}

/// <summary>The resolved <c>base_model</c>.</summary>
/// <param name="Kind">Builtin, folder or hub.</param>
/// <param name="Name">The builtin name (<c>tiny-llama</c>), the folder as written, or the hub id without revision (<c>org/name</c>).</param>
/// <param name="Path">The folder's absolute path (Folder only).</param>
/// <param name="Revision">The hub revision after <c>@</c>, or null for the default branch (Hub only).</param>
public sealed record BaseModelReference(BaseModelKind Kind, string Name, string? Path = null, string? Revision = null)
{
    /// <summary>The prefix of builtin model references.</summary>
    public const string BuiltinPrefix = "builtin:";

    /// <summary>The reference as a recipe writes it.</summary>
    public override string ToString() => Kind switch
    {
        BaseModelKind.Builtin => BuiltinPrefix + Name,
        BaseModelKind.Hub when Revision is not null => $"{Name}@{Revision}",
        _ => Name,
    };
}
