using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Worker.Tests;

/// <summary>
/// terraform/ as the terraform CLI would read it, parsed by tests/parse-terraform.mjs (npm
/// @cdktf/hcl2json; `npm ci` installs it). Expressions come back as text such as <c>${var.amqp_uri}</c>.
/// </summary>
internal sealed partial class TerraformConfiguration
{
    private TerraformConfiguration(string folder, JsonObject files)
    {
        Folder = folder;
        Files = files;
    }

    public string Folder { get; }

    /// <summary>Each parsed file by name (<c>main.tf</c>, <c>example.tfvars</c>...).</summary>
    public JsonObject Files { get; }

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    private static readonly Lazy<Task<TerraformConfiguration>> Parsed = new(() => ParseAsync(Path.Combine(RepositoryRoot, "terraform")));

    public static Task<TerraformConfiguration> LoadAsync() => Parsed.Value;

    public static async Task<TerraformConfiguration> ParseAsync(string folder)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = RepositoryRoot, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot, "tests", "parse-terraform.mjs"));
        start.ArgumentList.Add(folder);
        using var node = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync();
        Assert.True(node.ExitCode == 0,
            $"tests/parse-terraform.mjs {folder} exited {node.ExitCode} (is @cdktf/hcl2json installed? `npm ci` at the repository root):\n{await stderr}");
        return new TerraformConfiguration(folder, JsonNode.Parse(await stdout)!.AsObject());
    }

    /// <summary>A <c>locals</c> value by name, from whichever file sets it.</summary>
    public JsonNode Local(string name) =>
        Blocks("locals").Select(block => block[name]).FirstOrDefault(value => value is not null)
        ?? throw new KeyNotFoundException($"no local {name} in {Folder}");

    /// <summary>An environment map (a local) as key -> value text.</summary>
    public IReadOnlyDictionary<string, string> Environment(string local) =>
        Local(local).AsObject().ToDictionary(pair => pair.Key, pair => Text(pair.Value));

    /// <summary>Every declared variable: its first (only) block.</summary>
    public IReadOnlyDictionary<string, JsonObject> Variables =>
        Files.Select(file => file.Value?["variable"]?.AsObject()).OfType<JsonObject>()
            .SelectMany(variables => variables)
            .ToDictionary(pair => pair.Key, pair => pair.Value!.AsArray()[0]!.AsObject());

    /// <summary>The first block of resource <paramref name="type"/>.<paramref name="name"/>.</summary>
    public JsonObject Resource(string type, string name) =>
        Files.Select(file => file.Value?["resource"]?[type]?[name]?.AsArray()[0]).OfType<JsonObject>().FirstOrDefault()
        ?? throw new KeyNotFoundException($"no resource {type}.{name} in {Folder}");

    /// <summary>The value as written: a literal's text, or an expression's <c>${...}</c>.</summary>
    public static string Text(JsonNode? value) => value switch
    {
        null => "",
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
        _ => value.ToJsonString(),
    };

    /// <summary>
    /// The value the worker gets when every variable keeps its default: <c>${var.x}</c> and
    /// <c>${tostring(var.x)}</c> are replaced by x's default; null when another expression remains
    /// (a local or a function the test can't evaluate) or a variable has no default.
    /// </summary>
    public string? WithDefaults(string value)
    {
        var variables = Variables;
        var missing = false;
        var text = VariableReference().Replace(value, match =>
        {
            if (variables.TryGetValue(match.Groups["name"].Value, out var variable) && variable["default"] is { } fallback)
            {
                return Text(fallback);
            }
            missing = true;
            return match.Value;
        });
        return missing || text.Contains("${", StringComparison.Ordinal) ? null : text;
    }

    /// <summary>The variable a value is exactly, as in <c>${var.amqp_uri}</c>; null for anything else.</summary>
    public static string? VariableOf(string value) => WholeVariable().Match(value) is { Success: true } m ? m.Groups["name"].Value : null;

    private IEnumerable<JsonObject> Blocks(string kind) =>
        Files.Select(file => file.Value?[kind]?.AsArray()).OfType<JsonArray>().SelectMany(blocks => blocks).OfType<JsonObject>();

    [GeneratedRegex(@"\$\{(?:tostring\()?var\.(?<name>[a-z0-9_]+)\)?\}")]
    private static partial Regex VariableReference();

    [GeneratedRegex(@"^\$\{var\.(?<name>[a-z0-9_]+)\}$")]
    private static partial Regex WholeVariable();

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Worker.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("no Worker.sln above " + AppContext.BaseDirectory);
    }
}
