using System.Text.Json.Nodes;
using LoraRecipes.IO;
using LoraRecipes.Recipes;

namespace LoraRecipes.Artifacts;

public static partial class ArtifactWriter
{
    /// <summary>
    /// Writes the artifact folder of an adapter trained elsewhere (<see cref="AdapterImporter"/>): its weights as
    /// they are, its config with our base model reference, the resolved recipe, and a manifest with the plan's
    /// fingerprint (so the build sees the artifact up to date) and the provenance <c>trained_by</c>. Same staging and
    /// renames as <see cref="Write"/>; no metrics or loss plot (the run was not ours).
    /// </summary>
    public static void WriteImported(TrainingPlan plan, string sourceFolder, PeftAdapterConfig config, string trainedBy, int modules, long trainableParameters)
    {
        Commit(plan.OutputDirectory, [AdapterConfigFile, AdapterWeightsFile, ResolvedRecipeFile, ManifestFile], staging =>
        {
            string baseModel = plan.BaseModel.Kind == BaseModelKind.Folder ? plan.BaseModel.Path! : plan.BaseModel.ToString();
            File.WriteAllText(Path.Combine(staging, AdapterConfigFile), (config with { BaseModelNameOrPath = baseModel, InferenceMode = true }).ToJson());
            File.Copy(Path.Combine(sourceFolder, AdapterWeightsFile), Path.Combine(staging, AdapterWeightsFile));
            File.WriteAllText(Path.Combine(staging, ResolvedRecipeFile), PlanWriter.ToYaml(plan));
            var root = ManifestBase(plan);
            root["provenance"] = new JsonObject
            {
                ["trained_by"] = trainedBy,
                ["imported_from"] = Path.GetFullPath(sourceFolder),
                ["source_base_model"] = config.BaseModelNameOrPath,
            };
            root["base_model"] = new JsonObject { ["spec"] = plan.Recipe.BaseModel };
            root["adapter"] = new JsonObject { ["modules"] = modules, ["trainable_parameters"] = trainableParameters };
            root["metrics"] = new JsonObject();
            File.WriteAllText(Path.Combine(staging, ManifestFile), root.ToJsonString(JsonOptions.Indented));
        });
        // A stale metrics log or plot from an earlier local run describes another adapter.
        foreach (string stale in new[] { MetricsFile, LossPlot.FileName })
            File.Delete(Path.Combine(plan.OutputDirectory, stale));
    }
}
