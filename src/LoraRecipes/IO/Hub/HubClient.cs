using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;

namespace LoraRecipes.IO.Hub;

/// <summary>
/// Downloads a model repository from the Hugging Face hub into the standard cache layout
/// (<c>models--org--name/blobs/&lt;etag&gt;</c>, <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c>, <c>refs/&lt;revision&gt;</c>),
/// so the Python tools and this one share one cache. Partial downloads resume with HTTP ranges;
/// sizes are checked and LFS files (whose ETag is their SHA-256) are hashed.
/// </summary>
public sealed class HubClient : IDisposable
{
    /// <summary>The files a model needs; pickled weights are never fetched.</summary>
    private static readonly string[] WantedNames =
    {
        "config.json", "generation_config.json", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model", "vocab.txt", "added_tokens.json",
    };
    private const int Attempts = 4;

    // The library's version for the User-Agent, without the '+<commit>' the SDK appends (as Artifacts.ToolInfo reports it;
    // read here because IO sits below Artifacts).
    private static readonly string UserAgentVersion =
        typeof(HubClient).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    private readonly HubOptions _options;
    private readonly HttpClient _http;      // follows redirects (to the CDN); drops Authorization across hosts
    private readonly HttpClient _metadata;  // does not follow: the hub's own headers carry the LFS hash and size
    private readonly Action<HubProgress>? _progress;

    public HubClient(HubOptions options, Action<HubProgress>? progress = null, HttpMessageHandler? handler = null)
    {
        _options = options;
        _progress = progress;
        _http = handler is null ? new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = true }) : new HttpClient(handler, disposeHandler: false);
        _metadata = handler is null ? new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) : new HttpClient(handler, disposeHandler: false);
        _http.Timeout = _metadata.Timeout = TimeSpan.FromMinutes(30);
    }

    /// <summary>The cache folder of a repository.</summary>
    public string RepoFolder(string repoId) => Path.Combine(_options.CacheDirectory, "models--" + repoId.Replace("/", "--", StringComparison.Ordinal));

    /// <summary>Returns the local snapshot folder of <paramref name="repoId"/> at <paramref name="revision"/>, downloading what is missing.</summary>
    public async Task<string> DownloadAsync(string repoId, string? revision = null, CancellationToken cancellation = default)
    {
        revision ??= "main";
        if (_options.Offline) return CachedSnapshot(repoId, revision)
            ?? throw new HubException($"{repoId}@{revision} is not in the hub cache ({_options.CacheDirectory}) and HF_HUB_OFFLINE is set; download it once online (dotnet lora download {repoId}).");

        var (commit, files) = await RepoInfoAsync(repoId, revision, cancellation);
        var wanted = files.Where(f => WantedNames.Contains(f) || (f.EndsWith(".safetensors", StringComparison.Ordinal) && !f.Contains('/'))).ToList();
        if (!wanted.Any(f => f.EndsWith(".safetensors", StringComparison.Ordinal)))
            throw new HubException(files.Any(f => f.EndsWith(".bin", StringComparison.Ordinal) || f.EndsWith(".pt", StringComparison.Ordinal))
                ? $"{repoId} has only pickled weights (*.bin); they are refused because loading them can run code. Use a repository with safetensors weights."
                : $"{repoId} has no *.safetensors weights.");

        string repoFolder = RepoFolder(repoId);
        string snapshot = Path.Combine(repoFolder, "snapshots", commit);
        foreach (string file in wanted)
        {
            string target = Path.Combine(snapshot, file);
            if (File.Exists(target)) continue;
            await DownloadFileAsync(repoId, commit, file, repoFolder, target, cancellation);
        }
        if (revision != commit)
        {
            Directory.CreateDirectory(Path.Combine(repoFolder, "refs"));
            AtomicFile.WriteAllText(Path.Combine(repoFolder, "refs", revision), commit);
        }
        return snapshot;
    }

    /// <summary>The cached snapshot for a revision (a branch/tag via refs/, or a commit hash), or null.</summary>
    public string? CachedSnapshot(string repoId, string revision)
    {
        string repoFolder = RepoFolder(repoId);
        string refFile = Path.Combine(repoFolder, "refs", revision);
        string commit = File.Exists(refFile) ? File.ReadAllText(refFile).Trim() : revision;
        string snapshot = Path.Combine(repoFolder, "snapshots", commit);
        return File.Exists(Path.Combine(snapshot, "config.json")) ? snapshot : null;
    }

    private async Task<(string Commit, IReadOnlyList<string> Files)> RepoInfoAsync(string repoId, string revision, CancellationToken cancellation)
    {
        string url = $"{_options.Endpoint}/api/models/{repoId}/revision/{Uri.EscapeDataString(revision)}";
        using var response = await SendAsync(_http, HttpMethod.Get, url, null, cancellation);
        Check(response, repoId, revision, "repository information");
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellation));
        var root = doc.RootElement;
        string commit = root.TryGetProperty("sha", out var sha) && sha.ValueKind == JsonValueKind.String ? sha.GetString()! : throw new HubException($"{repoId}: the hub's answer has no commit sha.");
        if (!IsSafeName(commit)) throw new HubException($"{repoId}: the hub returned an invalid commit '{commit}'.");
        var files = root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array
            ? siblings.EnumerateArray().Select(s => s.TryGetProperty("rfilename", out var n) ? n.GetString() ?? "" : "").Where(IsSafeName).ToList()
            : new List<string>();
        return (commit, files);
    }

    private async Task DownloadFileAsync(string repoId, string commit, string file, string repoFolder, string target, CancellationToken cancellation)
    {
        string url = $"{_options.Endpoint}/{repoId}/resolve/{commit}/{file}";
        string etag;
        long? size;
        using (var head = await SendAsync(_metadata, HttpMethod.Head, url, null, cancellation))
        {
            if (head.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.Found or HttpStatusCode.MovedPermanently or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect))
                Check(head, repoId, commit, file);
            etag = Header(head, "X-Linked-Etag") ?? head.Headers.ETag?.Tag ?? throw new HubException($"{repoId}/{file}: the hub sent no ETag.");
            etag = etag.Replace("W/", "", StringComparison.Ordinal).Trim('"');
            size = long.TryParse(Header(head, "X-Linked-Size"), out long linked) ? linked : head.Content.Headers.ContentLength;
        }
        if (!IsSafeName(etag) || etag.Contains('/')) throw new HubException($"{repoId}/{file}: invalid ETag from the hub.");

        string blobs = Path.Combine(repoFolder, "blobs");
        Directory.CreateDirectory(blobs);
        string blob = Path.Combine(blobs, etag);
        if (!File.Exists(blob)) await FetchBlobAsync(url, repoId, file, blob, size, etag, cancellation);
        LinkIntoSnapshot(blob, target);
    }

    private async Task FetchBlobAsync(string url, string repoId, string file, string blob, long? size, string etag, CancellationToken cancellation)
    {
        string partial = blob + ".incomplete";
        for (int attempt = 1; ; attempt++)
        {
            long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            try
            {
                using var response = await SendAsync(_http, HttpMethod.Get, url, have > 0 ? have : null, cancellation);
                Check(response, repoId, null, file);
                if (have > 0 && response.StatusCode != HttpStatusCode.PartialContent) have = 0;   // server ignored the range: start over
                await using (var output = new FileStream(partial, have > 0 ? FileMode.Append : FileMode.Create, FileAccess.Write))
                await using (var input = await response.Content.ReadAsStreamAsync(cancellation))
                {
                    var buffer = new byte[1 << 16];
                    long done = have;
                    int read;
                    while ((read = await input.ReadAsync(buffer, cancellation)) > 0)
                    {
                        await output.WriteAsync(buffer.AsMemory(0, read), cancellation);
                        done += read;
                        _progress?.Invoke(new HubProgress(file, done, size ?? -1));
                    }
                    output.Flush(flushToDisk: true);
                }
                break;
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException && attempt < Attempts && !cancellation.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellation);   // resume from what is on disk
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                throw new HubException($"{repoId}/{file}: download failed after {Attempts} attempts ({ex.Message}); run again to resume.", ex);
            }
        }
        Verify(partial, repoId, file, size, etag);
        File.Move(partial, blob, overwrite: true);
    }

    private static void Verify(string path, string repoId, string file, long? size, string etag)
    {
        long actual = new FileInfo(path).Length;
        if (size is { } expected && actual != expected)
        {
            File.Delete(path);
            throw new HubException($"{repoId}/{file}: downloaded {actual} bytes but the hub announced {expected}; the partial file was removed, run again.");
        }
        if (etag.Length == 64 && etag.All(Uri.IsHexDigit))
        {
            // LFS files: the ETag is the SHA-256 of the content.
            using var stream = File.OpenRead(path);
            string sha = Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
            if (sha != etag.ToLowerInvariant())
            {
                File.Delete(path);
                throw new HubException($"{repoId}/{file}: SHA-256 {sha} does not match the hub's {etag}; the file was removed, run again.");
            }
        }
    }

    private static void LinkIntoSnapshot(string blob, string target)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        string relative = Path.GetRelativePath(Path.GetDirectoryName(target)!, blob);
        try
        {
            File.CreateSymbolicLink(target, relative);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(blob, target, overwrite: true);   // file systems without symlinks: huggingface_hub copies too
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string url, long? from, CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(method, url);
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("LoraRecipes", UserAgentVersion));
        if (_options.Token is { } token) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (from is { } offset) request.Headers.Range = new RangeHeaderValue(offset, null);
        try
        {
            return await client.SendAsync(request, method == HttpMethod.Get ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, cancellation);
        }
        catch (HttpRequestException ex) when (from is null)
        {
            throw new HubException($"cannot reach {_options.Endpoint} ({ex.Message}). Check the network, or set HF_HUB_OFFLINE=1 to use the cache.", ex);
        }
    }

    private void Check(HttpResponseMessage response, string repoId, string? revision, string what)
    {
        if (response.IsSuccessStatusCode) return;
        string at = revision is null ? repoId : $"{repoId}@{revision}";
        throw response.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new HubException(_options.Token is null
                ? $"{at} requires authentication ({what}): it is gated or private. Set HF_TOKEN to a token with access."
                : $"{at}: the token in HF_TOKEN was refused ({(int)response.StatusCode}) for {what}; check it has access to this repository."),
            HttpStatusCode.NotFound => new HubException($"{at}: not found ({what}). Check the repository id and revision."),
            _ => new HubException($"{at}: the hub answered {(int)response.StatusCode} {response.ReasonPhrase} for {what}."),
        };
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    /// <summary>Rejects names that would escape the cache folder.</summary>
    private static bool IsSafeName(string name) =>
        name.Length > 0 && !name.StartsWith('/') && !name.Contains('\\') && !name.Split('/').Any(p => p is "" or "." or "..") && !name.Contains(':');

    public void Dispose()
    {
        _http.Dispose();
        _metadata.Dispose();
    }
}
