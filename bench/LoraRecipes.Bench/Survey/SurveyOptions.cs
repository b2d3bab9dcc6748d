namespace LoraRecipes.Bench.Survey;

/// <summary>The <c>--survey</c> mode's options (see <see cref="Usage"/>).</summary>
internal sealed record SurveyOptions
{
    /// <summary>A survey name (<c>bench/survey/&lt;name&gt;.yaml</c>) or a path to a survey file.</summary>
    public required string Survey { get; init; }
    public IReadOnlyList<string>? Rows { get; init; }
    public string? Json { get; init; }
    public string? Markdown { get; init; }

    /// <summary>Overrides added to every row after the survey's own (e.g. a shorter budget for a quick check).</summary>
    public IReadOnlyList<string> Overrides { get; init; } = [];

    /// <summary>The built CLI (<c>dotnet-lora.dll</c>); default: the one built beside this bench.</summary>
    public string? Cli { get; init; }

    /// <summary>Where the rows' artifact folders go and stay; default: a temp folder deleted at the end.</summary>
    public string? Keep { get; init; }

    public const string Usage = """
        usage: dotnet run -c Release --project bench/LoraRecipes.Bench -- --survey sentiment|medical|FILE [options]
          --rows a,b          only these rows (names from the survey file), in the file's order
          --set KEY=VALUE     an override added to every row after the survey's own (repeatable), e.g. training.max_steps=20
          --json FILE         also write the rows as JSON
          --markdown FILE     also write the table as markdown
          --keep DIR          keep each row's artifact folder under DIR/<row> (default: a temp folder, deleted)
          --cli PATH          the dotnet-lora.dll to run (default: src/LoraRecipes.Cli/bin/<configuration>/net10.0/dotnet-lora.dll)
        Each row is `dotnet-lora run <recipe> --set <the row's overrides> --output <folder> --log-format json` in a fresh
        process, then `dotnet-lora eval --adapter <folder> --data <test> --json` when the survey names a test file.
        Survey files: bench/survey/*.yaml (docs/method-survey.md).
        """;

    /// <summary>Parses <paramref name="args"/> (which start with <c>--survey</c>).</summary>
    /// <exception cref="SurveyException">A bad option; the message says which.</exception>
    public static SurveyOptions Parse(IReadOnlyList<string> args)
    {
        string? survey = null, json = null, markdown = null, cli = null, keep = null;
        IReadOnlyList<string>? rows = null;
        var overrides = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string Next() => i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : throw new SurveyException($"{args[i]} needs a value.\n{Usage}");
            switch (args[i])
            {
                case "--survey": survey = Next(); break;
                case "--rows": rows = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries); break;
                case "--json": json = Next(); break;
                case "--markdown": markdown = Next(); break;
                case "--cli": cli = Next(); break;
                case "--keep": keep = Next(); break;
                case "--set":
                    string o = Next();
                    if (o.IndexOf('=') <= 0) throw new SurveyException($"--set {o}: expected KEY=VALUE.");
                    overrides.Add(o);
                    break;
                default: throw new SurveyException($"unknown option {args[i]}.\n{Usage}");
            }
        }
        return new SurveyOptions
        {
            Survey = survey ?? throw new SurveyException(Usage), Rows = rows, Json = json, Markdown = markdown, Cli = cli, Keep = keep, Overrides = overrides,
        };
    }

    /// <summary>The survey file: a path as given when it exists, else <c>bench/survey/&lt;name&gt;.yaml</c> under the repository.</summary>
    public string SurveyFile(string repositoryRoot) =>
        File.Exists(Survey) ? Path.GetFullPath(Survey) : Path.Combine(repositoryRoot, "bench", "survey", Survey + ".yaml");
}
