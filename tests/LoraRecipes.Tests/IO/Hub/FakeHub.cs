using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace LoraRecipes.Tests.IO.Hub;

/// <summary>
/// A tiny Hugging Face hub on 127.0.0.1 serving one repository from a folder: the model-info API,
/// <c>resolve</c> URLs that answer HEAD with X-Linked-Etag/X-Linked-Size and redirect GETs to a CDN path,
/// byte ranges, an optional token, and a first transfer of large files cut off half-way.
/// </summary>
internal sealed class FakeHub : IDisposable
{
    public const string Commit = "0123456789abcdef0123456789abcdef01234567";
    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, byte[]> _files;
    private readonly Task _loop;
    private readonly HashSet<string> _interrupted = new();

    public FakeHub(string repoId, string folder, string? requiredToken = null, bool interruptLargeFiles = false)
    {
        RepoId = repoId;
        RequiredToken = requiredToken;
        InterruptLargeFiles = interruptLargeFiles;
        _files = Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        for (int port = 20000 + Random.Shared.Next(20000); ; port++)
        {
            try
            {
                _listener.Prefixes.Clear();
                _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
                _listener.Start();
                Endpoint = $"http://127.0.0.1:{port}";
                break;
            }
            catch (HttpListenerException)
            {
                if (port > 45000) throw;
            }
        }
        _loop = Task.Run(Serve);
    }

    public string Endpoint { get; private set; } = "";
    public string RepoId { get; }
    public string? RequiredToken { get; }
    public bool InterruptLargeFiles { get; }
    /// <summary>Authorization headers seen (to check a token is sent to the hub but not to the CDN).</summary>
    public List<(string Path, string? Authorization)> Requests { get; } = new();
    public int RangeRequests { get; private set; }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception)
            {
                return;
            }
            try
            {
                Handle(context);
            }
            catch (Exception)
            {
                // the client hung up (the interrupted-transfer case)
            }
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        string path = request.Url!.AbsolutePath;
        lock (Requests) Requests.Add((path, request.Headers["Authorization"]));
        bool cdn = path.StartsWith("/cdn/", StringComparison.Ordinal);
        if (!cdn && RequiredToken is not null && request.Headers["Authorization"] != "Bearer " + RequiredToken)
        {
            Respond(response, 401, "unauthorized");
            return;
        }
        if (path == $"/api/models/{RepoId}/revision/main" || path == $"/api/models/{RepoId}/revision/{Commit}")
        {
            var info = new { id = RepoId, sha = Commit, siblings = _files.Keys.Concat(new[] { "README.md" }).Select(f => new { rfilename = f }) };
            Respond(response, 200, JsonSerializer.Serialize(info), "application/json");
            return;
        }
        string resolve = $"/{RepoId}/resolve/{Commit}/";
        if (path.StartsWith(resolve, StringComparison.Ordinal) && _files.TryGetValue(path[resolve.Length..], out var content))
        {
            string name = path[resolve.Length..];
            bool lfs = name.EndsWith(".safetensors", StringComparison.Ordinal);
            string etag = lfs ? Convert.ToHexString(SHA256.HashData(content)).ToLowerInvariant() : "\"git-" + name.Length + "\"";
            response.AddHeader("X-Repo-Commit", Commit);
            if (lfs)
            {
                response.AddHeader("X-Linked-Etag", "\"" + etag + "\"");
                response.AddHeader("X-Linked-Size", content.Length.ToString());
                response.Redirect($"{Endpoint}/cdn/{name}");
                response.StatusCode = 302;
                response.Close();
                return;
            }
            response.AddHeader("ETag", etag);
            Send(response, request, content, name, interrupt: false);
            return;
        }
        if (cdn && _files.TryGetValue(path["/cdn/".Length..], out var blob))
        {
            string name = path["/cdn/".Length..];
            bool interrupt = InterruptLargeFiles && request.Headers["Range"] is null && _interrupted.Add(name);
            Send(response, request, blob, name, interrupt);
            return;
        }
        Respond(response, 404, "not found");
    }

    private void Send(HttpListenerResponse response, HttpListenerRequest request, byte[] content, string name, bool interrupt)
    {
        long from = 0;
        if (request.Headers["Range"] is { } range && range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            from = long.Parse(range["bytes=".Length..].TrimEnd('-').Split('-')[0]);
            RangeRequests++;
            response.StatusCode = 206;
            response.AddHeader("Content-Range", $"bytes {from}-{content.Length - 1}/{content.Length}");
        }
        response.ContentLength64 = content.Length - from;
        if (request.HttpMethod == "HEAD")
        {
            response.Close();
            return;
        }
        if (interrupt)
        {
            response.OutputStream.Write(content, 0, content.Length / 2);
            response.OutputStream.Flush();
            response.Abort();   // connection reset mid-body
            return;
        }
        response.OutputStream.Write(content, (int)from, (int)(content.Length - from));
        response.Close();
    }

    private static void Respond(HttpListenerResponse response, int status, string body, string type = "text/plain")
    {
        response.StatusCode = status;
        response.ContentType = type;
        var bytes = Encoding.UTF8.GetBytes(body);
        response.ContentLength64 = bytes.Length;
        response.OutputStream.Write(bytes);
        response.Close();
    }

    public void Dispose()
    {
        if (!_listener.IsListening) return;
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }
}
