namespace Worker.Core.Tests;

/// <summary>The processes of this host, read from /proc, for tests that check what a job left running.</summary>
internal static class HostProcesses
{
    /// <summary>The live (not zombie) processes whose command line is exactly <paramref name="commandLine"/>.</summary>
    public static IReadOnlyList<int> WithCommandLine(string commandLine) =>
        Directory.EnumerateDirectories("/proc").Where(dir =>
        {
            try
            {
                var cmd = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Trim();
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                return cmd == commandLine && !stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
            }
            catch (IOException)
            {
                return false;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
        }).Select(dir => int.Parse(Path.GetFileName(dir), System.Globalization.CultureInfo.InvariantCulture)).ToList();

    public static bool Running(string commandLine) => WithCommandLine(commandLine).Count > 0;
}
