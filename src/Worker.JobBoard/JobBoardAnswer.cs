using System.Globalization;
using System.Net;

namespace Worker.JobBoard;

/// <summary>What job-board (or a URL it handed out) answered: the status, the body and the intervals it asks for.</summary>
/// <param name="PopInterval">Its <c>Travis-Pop-Interval</c> header (whole seconds); null when absent or not a number.</param>
/// <param name="RefreshClaimInterval">Its <c>Travis-Refresh-Claim-Interval</c> header (whole seconds); null when absent or not a number.</param>
internal sealed record JobBoardAnswer(HttpStatusCode Status, string Body, TimeSpan? PopInterval, TimeSpan? RefreshClaimInterval)
{
    public static async Task<JobBoardAnswer> ReadAsync(HttpResponseMessage response, CancellationToken ct) =>
        new(response.StatusCode, await response.Content.ReadAsStringAsync(ct),
            Seconds(response, "Travis-Pop-Interval"), Seconds(response, "Travis-Refresh-Claim-Interval"));

    /// <summary>The status and the start of the body, for a log line.</summary>
    public string Describe() => $"{(int)Status} {Status}" + (Body.Length == 0 ? "" : ": " + (Body.Length > 200 ? Body[..200] + "..." : Body));

    /// <summary>A header of whole seconds, as travis-worker read it (Go's ParseUint); null otherwise.</summary>
    private static TimeSpan? Seconds(HttpResponseMessage response, string header) =>
        response.Headers.TryGetValues(header, out var values) &&
        ulong.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds <= int.MaxValue
            ? TimeSpan.FromSeconds(seconds)
            : null;
}
