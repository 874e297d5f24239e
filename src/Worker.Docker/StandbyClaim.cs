using System.Globalization;
using System.Text.RegularExpressions;

namespace Worker.Docker;

/// <summary>
/// Docker can't change a container's labels, so a standby taken by a job records the hand-over in
/// its name instead: <c>worker-job-JOBID-until-DEADLINE-SUFFIX</c>. A cleanup sidecar in another
/// process reads the job id and deadline back (<see cref="DockerInventory"/>) without sharing memory with the worker.
/// </summary>
public static partial class StandbyClaim
{
    public static string Name(long jobId, long deadlineUnixSeconds, string suffix) =>
        string.Create(CultureInfo.InvariantCulture, $"worker-job-{jobId}-until-{deadlineUnixSeconds}-{suffix}");

    public static bool TryParse(string name, out long jobId, out long deadlineUnixSeconds)
    {
        var match = ClaimedName().Match(name.TrimStart('/'));
        jobId = 0;
        deadlineUnixSeconds = 0;
        return match.Success &&
               long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out jobId) &&
               long.TryParse(match.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out deadlineUnixSeconds);
    }

    [GeneratedRegex("^worker-job-([0-9]+)-until-([0-9]+)-[a-z0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex ClaimedName();
}
