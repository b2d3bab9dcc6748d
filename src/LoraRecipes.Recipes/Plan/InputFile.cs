namespace LoraRecipes.Recipes;

/// <summary>A file the training reads, with its content hash (recorded in the manifest and the fingerprint).</summary>
/// <param name="Role">What it is: <c>data.train</c>, <c>data.validation</c>, or <c>base_model/&lt;file name&gt;</c>.</param>
/// <param name="Path">Absolute path.</param>
/// <param name="Sha256">Lowercase hex SHA-256 of the content.</param>
/// <param name="Size">Size in bytes.</param>
public sealed record InputFile(string Role, string Path, string Sha256, long Size);
