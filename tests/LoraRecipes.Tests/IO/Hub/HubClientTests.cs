using System.Security.Cryptography;
using LoraRecipes.IO.Hub;
using LoraRecipes.Models;

namespace LoraRecipes.Tests.IO.Hub;

public sealed class HubClientTests : IDisposable
{
    private readonly string _cache = Directory.CreateTempSubdirectory("lora-hub-").FullName;
    private readonly string _model = BuiltinModels.Materialize("tiny-llama");

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    private HubOptions Options(FakeHub hub, string? token = null, bool offline = false) =>
        new() { Endpoint = hub.Endpoint, CacheDirectory = _cache, Token = token, Offline = offline };

    private static string Sha(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public async Task DownloadsIntoTheStandardCacheLayoutAndLoadsAsAModel()
    {
        using var hub = new FakeHub("acme/tiny", _model);
        using var client = new HubClient(Options(hub));
        string snapshot = await client.DownloadAsync("acme/tiny");

        Assert.Equal(Path.Combine(_cache, "models--acme--tiny", "snapshots", FakeHub.Commit), snapshot);
        Assert.Equal(FakeHub.Commit, File.ReadAllText(Path.Combine(_cache, "models--acme--tiny", "refs", "main")));
        Assert.Equal(Sha(Path.Combine(_model, "model.safetensors")), Sha(Path.Combine(snapshot, "model.safetensors")));
        string weightsSha = Sha(Path.Combine(_model, "model.safetensors")).ToLowerInvariant();
        Assert.True(File.Exists(Path.Combine(_cache, "models--acme--tiny", "blobs", weightsSha)));   // LFS blob named by its SHA-256
        Assert.False(File.Exists(Path.Combine(snapshot, "README.md")));                             // only what a model needs
        using var loaded = ModelLoader.Load(snapshot);
        Assert.Equal("llama", loaded.Config.ModelType);

        // Offline, the same id resolves from the cache without the server.
        hub.Dispose();
        using var offline = new HubClient(new HubOptions { Endpoint = "http://127.0.0.1:9", CacheDirectory = _cache, Offline = true });
        Assert.Equal(snapshot, await offline.DownloadAsync("acme/tiny"));
    }

    [Fact]
    public async Task AnInterruptedTransferResumesWithARangeRequest()
    {
        using var hub = new FakeHub("acme/tiny", _model, interruptLargeFiles: true);
        using var client = new HubClient(Options(hub));
        string snapshot = await client.DownloadAsync("acme/tiny");
        Assert.True(hub.RangeRequests >= 1);
        Assert.Equal(Sha(Path.Combine(_model, "model.safetensors")), Sha(Path.Combine(snapshot, "model.safetensors")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_cache, "models--acme--tiny", "blobs"), "*.incomplete"));
    }

    [Fact]
    public async Task PrivateReposNeedTheTokenWhichIsSentToTheHubOnlyAndNeverShown()
    {
        const string secret = "hf_SECRETsecret123";
        using var hub = new FakeHub("acme/private", _model, requiredToken: secret);
        using (var anonymous = new HubClient(Options(hub)))
        {
            var ex = await Assert.ThrowsAsync<HubException>(() => anonymous.DownloadAsync("acme/private"));
            Assert.Contains("HF_TOKEN", ex.Message);
        }
        using (var wrong = new HubClient(Options(hub, "hf_wrong")))
        {
            var ex = await Assert.ThrowsAsync<HubException>(() => wrong.DownloadAsync("acme/private"));
            Assert.Contains("refused", ex.Message);
            Assert.DoesNotContain("hf_wrong", ex.Message);
        }
        using var client = new HubClient(Options(hub, secret));
        await client.DownloadAsync("acme/private");
        Assert.DoesNotContain(secret, Options(hub, secret).ToString());
        // The CDN (another host in real life) never sees the token: .NET drops Authorization on redirects.
        Assert.All(hub.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)), r => Assert.Null(r.Authorization));
    }

    [Fact]
    public async Task MissingReposAndOfflineMissesAreClearErrors()
    {
        using var hub = new FakeHub("acme/tiny", _model);
        using var client = new HubClient(Options(hub));
        var missing = await Assert.ThrowsAsync<HubException>(() => client.DownloadAsync("acme/nope"));
        Assert.Contains("not found", missing.Message);
        using var offline = new HubClient(Options(hub, offline: true));
        var miss = await Assert.ThrowsAsync<HubException>(() => offline.DownloadAsync("acme/tiny"));
        Assert.Contains("HF_HUB_OFFLINE", miss.Message);
    }
}
