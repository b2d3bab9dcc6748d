using System.Text.Json;

namespace LoraRecipes.Build.Tests.Integration;

/// <summary>
/// Real <c>dotnet build</c>s of a temporary project that references the packed LoraRecipes.Build: one
/// project walked through the incremental lifecycle (each build reuses the previous state, which keeps
/// the suite to a handful of builds), and one broken recipe.
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class LoraRecipeBuildTests(PackageFeed feed)
{
    private const string Trained = "tiny.yaml: training adapter into";
    private const string Skipped = "tiny.yaml: adapter up to date";

    [Fact]
    public void Trains_once_retrains_on_content_change_only_and_cleans_up()
    {
        using var project = new ConsumerProject(feed);

        // 1. First build trains; the adapter joins the output folder.
        var first = project.Build();
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains(Trained, first.Output);
        Assert.True(File.Exists(project.OutputFile("adapter_model.safetensors")), first.Output);
        Assert.True(File.Exists(project.OutputFile("adapter_config.json")));
        string manifest = File.ReadAllText(project.ArtifactFile("lora-manifest.json"));

        // 2. Nothing changed: one skip line, the manifest is untouched.
        var second = project.Build();
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Contains(Skipped, second.Output);
        Assert.DoesNotContain(Trained, second.Output);
        Assert.Equal(manifest, File.ReadAllText(project.ArtifactFile("lora-manifest.json")));

        // 3. Touched but identical data (a fresh checkout's mtimes): still up to date.
        File.SetLastWriteTimeUtc(project.Path("data.jsonl"), DateTime.UtcNow.AddMinutes(1));
        var touched = project.Build();
        Assert.True(touched.ExitCode == 0, touched.Output);
        Assert.Contains(Skipped, touched.Output);
        Assert.Equal(manifest, File.ReadAllText(project.ArtifactFile("lora-manifest.json")));

        // 4. One changed byte in the data: retrains, new fingerprint.
        ChangeOneByte(project.Path("data.jsonl"), "Answer number 3.", "Answer number 4.");
        var changed = project.Build();
        Assert.True(changed.ExitCode == 0, changed.Output);
        Assert.Contains(Trained, changed.Output);
        string retrained = File.ReadAllText(project.ArtifactFile("lora-manifest.json"));
        Assert.NotEqual(Fingerprint(manifest), Fingerprint(retrained));

        // 5. Out of date again, but design-time builds and LoraTrainOnBuild=false never train.
        ChangeOneByte(project.Path("data.jsonl"), "Answer number 5.", "Answer number 6.");
        var designTime = project.Build("-p:DesignTimeBuild=true", "-p:BuildingProject=false");
        Assert.True(designTime.ExitCode == 0, designTime.Output);
        Assert.DoesNotContain(Trained, designTime.Output);
        var validateOnly = project.Build("-p:LoraTrainOnBuild=false");
        Assert.True(validateOnly.ExitCode == 0, validateOnly.Output);
        Assert.DoesNotContain(Trained, validateOnly.Output);
        Assert.Equal(retrained, File.ReadAllText(project.ArtifactFile("lora-manifest.json")));

        // 6. Publish carries the adapter.
        var publish = project.Dotnet("publish", "-c", "Debug", "--no-restore", "-p:LoraTrainOnBuild=false", "-o", project.Path("pub"));
        Assert.True(publish.ExitCode == 0, publish.Output);
        Assert.True(File.Exists(project.Path("pub", "lora", "tiny", "adapter_model.safetensors")), publish.Output);

        // 7. Clean removes the artifacts and their copies.
        var clean = project.Dotnet("clean");
        Assert.True(clean.ExitCode == 0, clean.Output);
        Assert.False(File.Exists(project.ArtifactFile("lora-manifest.json")), clean.Output);
        Assert.False(File.Exists(project.ArtifactFile("adapter_model.safetensors")));
        Assert.False(File.Exists(project.OutputFile("adapter_model.safetensors")));
    }

    [Fact]
    public void Broken_recipe_fails_the_build_with_the_canonical_error()
    {
        using var project = new ConsumerProject(feed);
        // Line 8 is "  r: abc"; the value starts at column 6.
        project.Write("bad.yaml", ConsumerProject.TinyRecipe.Replace("  r: 2", "  r: abc"));

        var build = project.Build("-p:TestRecipe=bad.yaml");

        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("bad.yaml(8,6): error LORA012: lora.r must be an integer, got 'abc'", build.Output);
        Assert.DoesNotContain("training adapter", build.Output);
    }

    private static void ChangeOneByte(string path, string from, string to)
    {
        string text = File.ReadAllText(path);
        Assert.Contains(from, text);
        File.WriteAllText(path, text.Replace(from, to));
    }

    private static string Fingerprint(string manifestJson) =>
        JsonDocument.Parse(manifestJson).RootElement.GetProperty("fingerprint").GetString()!;
}
