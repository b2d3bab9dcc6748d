using System.CommandLine;
using LoraRecipes.Artifacts;
using LoraRecipes.Native;
using LoraRecipes.Training;
using Spectre.Console;
using static TorchSharp.torch;

namespace LoraRecipes.Cli.Commands;

/// <summary><c>dotnet lora doctor</c>: what backend loaded, from where, and how it will run.</summary>
internal static class DoctorCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var command = new Command("doctor", "Report the libtorch backend, versions, devices, threads and native-loading fixes.");
        command.SetAction(_ =>
        {
            LibTorchLoader.EnsureInitialized();
            var report = LibTorchLoader.Report;
            bool cudaAvailable = cuda.is_available();
            var table = new Table().AddColumn("check").AddColumn("result");
            table.AddRow("LoraRecipes", ToolInfo.Version);
            table.AddRow("TorchSharp", ToolInfo.TorchSharpVersion);
            table.AddRow("libtorch", Markup.Escape(ToolInfo.LibTorchVersion));
            table.AddRow("backend", cudaAvailable ? "cuda" : "cpu");
            table.AddRow("devices", Markup.Escape(cudaAvailable ? $"cpu, cuda x{cuda.device_count()}" : "cpu"));
            table.AddRow("threads", $"{get_num_threads()} (libtorch), {DeviceSelection.PhysicalCores()} physical cores, {Environment.ProcessorCount} logical");
            table.AddRow("native folder", Markup.Escape(report.NativeDirectory ?? "(TorchSharp default search)"));
            table.AddRow("GLIBCXX compatibility fix", Markup.Escape(report.CompatibilityFixApplied ? "applied: " + report.PatchedLibrary : report.Detail));
            table.AddRow("cache", Markup.Escape(LibTorchLoader.CacheDirectory()));
            console.Write(table);
            using var probe = ones(2, 2).matmul(ones(2, 2));
            console.WriteLine(probe.sum().item<float>() == 8f ? "libtorch works." : "libtorch computed a wrong result!");
            return ExitCodes.Success;
        });
        return command;
    }
}
