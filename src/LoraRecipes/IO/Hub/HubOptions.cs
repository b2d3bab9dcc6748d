namespace LoraRecipes.IO.Hub;

/// <summary>
/// Where and how to reach the Hugging Face hub, read from the standard environment variables:
/// <c>HF_ENDPOINT</c>, <c>HF_HUB_CACHE</c> / <c>HF_HOME</c>, <c>HF_TOKEN</c> (or the token file), <c>HF_HUB_OFFLINE</c>.
/// </summary>
public sealed record HubOptions
{
    /// <summary>Base URL of the hub (no trailing slash).</summary>
    public string Endpoint { get; init; } = "https://huggingface.co";

    /// <summary>The hub cache folder (<c>models--org--name/{blobs,snapshots,refs}</c> inside).</summary>
    public required string CacheDirectory { get; init; }

    /// <summary>Bearer token for gated/private repositories. Never logged, never written.</summary>
    public string? Token { get; init; }

    /// <summary>Resolve from the cache only; never touch the network.</summary>
    public bool Offline { get; init; }

    /// <summary>Options as the Python <c>huggingface_hub</c> library reads them.</summary>
    public static HubOptions FromEnvironment()
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string hfHome = Env("HF_HOME") ?? Path.Combine(Env("XDG_CACHE_HOME") ?? Path.Combine(home, ".cache"), "huggingface");
        string? token = Env("HF_TOKEN") ?? Env("HUGGING_FACE_HUB_TOKEN");
        string tokenFile = Path.Combine(hfHome, "token");
        if (token is null && File.Exists(tokenFile)) token = File.ReadAllText(tokenFile).Trim();
        return new HubOptions
        {
            Endpoint = (Env("HF_ENDPOINT") ?? "https://huggingface.co").TrimEnd('/'),
            CacheDirectory = Env("HF_HUB_CACHE") ?? Path.Combine(hfHome, "hub"),
            Token = string.IsNullOrWhiteSpace(token) ? null : token,
            Offline = Env("HF_HUB_OFFLINE") is "1" or "true" or "TRUE" or "yes",
        };
    }

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

    /// <inheritdoc/>
    public override string ToString() => $"HubOptions {{ Endpoint = {Endpoint}, CacheDirectory = {CacheDirectory}, Token = {(Token is null ? "none" : "***")}, Offline = {Offline} }}";
}

/// <summary>A hub download that failed in a way the user can fix; the message never contains the token.</summary>
public sealed class HubException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Download progress of one file.</summary>
public sealed record HubProgress(string File, long Downloaded, long Total);
