using System.Globalization;
using System.Text.Json;

namespace Worker.JobBoard;

/// <summary>job-board's answer to a pop: <c>{"@queue":"linux","job_id":"123"}</c> (the id a string, as Redis keeps it; a number is taken too).</summary>
internal static class PoppedJob
{
    /// <summary>The job id in the answer; null when there is none that reads as a positive integer.</summary>
    public static long? IdIn(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("job_id", out var id))
            {
                return null;
            }
            long value;
            var ok = id.ValueKind switch
            {
                JsonValueKind.String => long.TryParse(id.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out value),
                JsonValueKind.Number => id.TryGetInt64(out value),
                _ => (value = 0) != 0,
            };
            return ok && value > 0 ? value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
