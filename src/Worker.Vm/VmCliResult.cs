namespace Worker.Vm;

/// <summary>How one call of a VM tool ended: its arguments, exit code and captured output.</summary>
public sealed record VmCliResult(IReadOnlyList<string> Arguments, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The subcommand and its arguments, as typed after the tool's name.</summary>
    public string Command => string.Join(' ', Arguments);

    /// <summary>What the tool said about its failure: the first non-empty line of stderr, else of stdout (as cirrus-cli reports it).</summary>
    public string FirstLine => FirstNonEmptyLine(Stderr) ?? FirstNonEmptyLine(Stdout) ?? "(no output)";

    private static string? FirstNonEmptyLine(string text) =>
        text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0);
}
