using System.CommandLine;
using System.Diagnostics;
using LoraRecipes.Native;
using LoraRecipes.Training;
using Spectre.Console;

namespace LoraRecipes.Cli.Commands;

/// <summary>
/// <c>dotnet lora setup --backend cpu|cuda</c>: puts the libtorch backend package for this OS into the NuGet
/// cache, where the tool finds it (the tool package does not carry libtorch: ~600 MB for CPU, several GB for CUDA).
/// </summary>
/// <remarks>
/// It restores (CPU) or builds (CUDA: the package's build targets re-stitch its split libraries) a throwaway
/// project that references <c>TorchSharp</c> and the backend package at the versions this tool was built with,
/// so NuGet does the download, the signature checks and the cache layout exactly as for any project.
/// </remarks>
internal static class SetupCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var backend = new Option<string>("--backend") { Description = "cpu (default) or cuda (Linux/Windows x64; needs an NVIDIA driver).", DefaultValueFactory = _ => "cpu" };
        backend.AcceptOnlyFromAmong("cpu", "cuda");
        var source = new Option<string?>("--source") { Description = "Extra package source (a feed URL or folder) for the restore." };
        var command = new Command("setup", "Install the libtorch backend (CPU or CUDA) into the NuGet cache for the dotnet lora tool.") { backend, source };
        command.SetAction(parse =>
        {
            string kind = parse.GetValue(backend)!;
            string package = NativeLocator.BackendPackage(kind);
            string target = NativeLocator.CachedLibTorchDirectory(kind);
            if (Directory.Exists(target) && Directory.EnumerateFiles(target).Any())
            {
                console.MarkupLineInterpolated($"{package} {NativeLocator.LibTorchVersion} is already in the NuGet cache: {target}");
                return ExitCodes.Success;
            }
            console.MarkupLineInterpolated($"restoring {package} {NativeLocator.LibTorchVersion} and TorchSharp {NativeLocator.TorchSharpVersion} into {NativeLocator.NuGetPackagesDirectory()} …");
            string dir = Directory.CreateTempSubdirectory("lora-setup-").FullName;
            try
            {
                File.WriteAllText(Path.Combine(dir, "setup.csproj"), Project(kind, package, parse.GetValue(source)));
                int code = Dotnet(kind == "cuda" ? "build" : "restore", dir, console);
                if (code != 0)
                {
                    CommonOptions.PrintError(console, $"dotnet {(kind == "cuda" ? "build" : "restore")} of {package} failed (exit {code}); see the output above.");
                    return ExitCodes.InvalidInput;
                }
                console.MarkupLineInterpolated($"[green]done:[/] {target}");
                if (kind == "cuda") console.MarkupLine("set [bold]LORA_BACKEND=cuda[/] so the tool loads the CUDA backend instead of the CPU one.");
                return ExitCodes.Success;
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        });
        return command;
    }

    /// <summary>The throwaway project: no central package management, nothing but the two references.</summary>
    internal static string Project(string kind, string package, string? source) => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <TargetFramework>net{Environment.Version.Major}.0</TargetFramework>
            <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
            <ImportDirectoryBuildProps>false</ImportDirectoryBuildProps>
            <NoWarn>NU1603;NU1701</NoWarn>
            {(source is null ? "" : $"<RestoreAdditionalProjectSources>{System.Security.SecurityElement.Escape(source)}</RestoreAdditionalProjectSources>")}
          </PropertyGroup>
          <ItemGroup>
            <PackageReference Include="TorchSharp" Version="{NativeLocator.TorchSharpVersion}" />
            <PackageReference Include="{package}" Version="{NativeLocator.LibTorchVersion}" />
          </ItemGroup>
        </Project>
        """;

    private static int Dotnet(string verb, string dir, IAnsiConsole console)
    {
        var start = new ProcessStartInfo("dotnet", [verb, "--nologo", "-v", "q"]) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string text = (stdout + stderr.Result).Trim();
        if (text.Length > 0) console.WriteLine(text);
        return process.ExitCode;
    }
}
