using LoraRecipes.Recipes;
using LoraRecipes.Recipes.Artifacts;

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
        Commit(plan.OutputDirectory, [ArtifactFiles.AdapterConfig, ArtifactFiles.AdapterWeights, ArtifactFiles.ResolvedRecipe, ArtifactFiles.Manifest], staging =>
        {
            string baseModel = plan.BaseModel.Kind == BaseModelKind.Folder ? plan.BaseModel.Path! : plan.BaseModel.ToString();
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.AdapterConfig), (config with { BaseModelNameOrPath = baseModel, InferenceMode = true }).ToJson());
            File.Copy(Path.Combine(sourceFolder, ArtifactFiles.AdapterWeights), Path.Combine(staging, ArtifactFiles.AdapterWeights));
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.ResolvedRecipe), PlanWriter.ToYaml(plan));
            var manifest = ManifestBase(plan);
            manifest = manifest with
            {
                Provenance = manifest.Provenance! with
                {
                    TrainedBy = trainedBy,
                    ImportedFrom = Path.GetFullPath(sourceFolder),
                    SourceBaseModel = config.BaseModelNameOrPath,
                },
                BaseModel = new ManifestBaseModel { Spec = plan.Recipe.BaseModel },
                Adapter = new ManifestAdapter
                {
                    Modules = modules,
                    TrainableParameters = trainableParameters,
                    Method = config.IsIa3 ? new ManifestMethod { Name = "ia3" } : new ManifestMethod { Name = "lora", UseDora = config.UseDora, Init = "default" },
                },
            };
            File.WriteAllText(Path.Combine(staging, ArtifactFiles.Manifest), manifest.ToJson());
        });
        // A stale metrics log or plot from an earlier local run describes another adapter.
        foreach (string stale in new[] { ArtifactFiles.Metrics, ArtifactFiles.LossPlot })
            File.Delete(Path.Combine(plan.OutputDirectory, stale));
    }
}
