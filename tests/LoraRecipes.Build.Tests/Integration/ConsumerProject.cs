namespace LoraRecipes.Build.Tests.Integration;

/// <summary>
/// A temporary console project that references the packed LoraRecipes.Build through a nuget.config with the
/// local feed and nuget.org, and has one <c>&lt;LoraRecipe&gt;</c> (a tiny recipe: builtin:tiny-llama, 12
/// records, 2 steps). <c>-p:TestRecipe=x.yaml</c> swaps the recipe.
/// </summary>
internal sealed class ConsumerProject : IDisposable
{
    public const string TinyRecipe = """
        name: tiny
        base_model: builtin:tiny-llama
        data:
          train: data.jsonl
          validation_split: 0.25
          max_length: 128
        lora:
          r: 2
          target_modules: [q_proj, v_proj]
        training:
          max_steps: 2
          batch_size: 4
        evaluation:
          samples: ["Explain item 1"]
        output:
          dir: out
        """;

    public ConsumerProject(PackageFeed feed)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("lora-consumer-").FullName;
        Write("nuget.config", $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed.Folder}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
        Write("App.csproj", $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <TestRecipe Condition="'$(TestRecipe)' == ''">tiny.yaml</TestRecipe>
                <UseSharedCompilation>false</UseSharedCompilation>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="LoraRecipes.Build" Version="{feed.Version}" PrivateAssets="all" />
                <LoraRecipe Include="$(TestRecipe)" />
              </ItemGroup>
            </Project>
            """);
        Write("Program.cs", "System.Console.WriteLine(\"ok\");\n");
        Write("tiny.yaml", TinyRecipe);
        Write("data.jsonl", string.Concat(Enumerable.Range(0, 12).Select(i =>
            $"{{\"instruction\": \"Explain\", \"input\": \"item {i}\", \"output\": \"Answer number {i}.\"}}\n")));
    }

    public string Directory { get; }

    public string Path(params string[] parts) => System.IO.Path.Combine([Directory, .. parts]);

    /// <summary>The default artifact folder of tiny.yaml: $(IntermediateOutputPath)lora/tiny/.</summary>
    public string ArtifactFile(string name) => Path("obj", "Debug", "net10.0", "lora", "tiny", name);

    /// <summary>Where the build copies it: $(OutDir)lora/tiny/.</summary>
    public string OutputFile(string name) => Path("bin", "Debug", "net10.0", "lora", "tiny", name);

    public void Write(string name, string text) => File.WriteAllText(Path(name), text);

    public (int ExitCode, string Output) Build(params string[] args) => Dotnet("build", args);

    public (int ExitCode, string Output) Dotnet(string verb, params string[] args) =>
        DotNet.Run(Directory, [verb, "-tl:off", "-nodeReuse:false", .. args]);

    public void Dispose() => PackageFeed.TryDelete(Directory);
}
