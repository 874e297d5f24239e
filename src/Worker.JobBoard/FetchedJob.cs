using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Worker.JobBoard;

/// <summary>
/// A job as job-board hands it out (<c>GET /jobs/N</c>): <c>{"@type":"job_board_job", "data":{travis
/// payload}, "job_script":{"name","encoding":"base64","content"}, "job_state_url", "log_parts_url",
/// "jwt", "image_name"}</c>. The state URL is a URI template whose <c>{job_id}</c> is expanded here.
/// <c>image_name</c> is kept but not used: travis-worker did not use it either, its backends choose
/// the image.
/// </summary>
internal sealed partial record FetchedJob(long JobId, JsonNode? Data, string? ScriptEncoding, string? ScriptContent, Uri StateUrl, Uri LogPartsUrl,
    string Jwt, string? ImageName)
{
    /// <summary>
    /// Reads the envelope. Without a JWT or the state and log URLs nothing can be reported about the
    /// job: <see cref="UnreportableJobException"/> (with the JWT when there was one, so the job can still be deleted).
    /// The payload itself (<see cref="Data"/>) is checked later, and a bad one is reported errored.
    /// </summary>
    public static FetchedJob Parse(long jobId, string body)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(body) as JsonObject ?? throw new UnreportableJobException("job-board's answer is not a JSON object", null);
        }
        catch (JsonException e)
        {
            throw new UnreportableJobException("job-board's answer is not JSON: " + e.Message, null);
        }
        var jwt = Text(root, "jwt");
        if (string.IsNullOrEmpty(jwt))
        {
            throw new UnreportableJobException("job-board's answer has no jwt", null);
        }
        var stateUrl = Url(root, "job_state_url", jobId, jwt);
        var logPartsUrl = Url(root, "log_parts_url", jobId, jwt);
        var script = root["job_script"] as JsonObject;
        return new FetchedJob(jobId, root["data"], script is null ? null : Text(script, "encoding"), script is null ? null : Text(script, "content"),
            stateUrl, logPartsUrl, jwt, Text(root, "image_name"));
    }

    private static Uri Url(JsonObject root, string name, long jobId, string jwt)
    {
        var template = Text(root, name);
        if (string.IsNullOrEmpty(template))
        {
            throw new UnreportableJobException($"job-board's answer has no {name}", jwt);
        }
        var expanded = Expand(template, jobId);
        return Uri.TryCreate(expanded, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
            ? url
            : throw new UnreportableJobException($"job-board's {name} is not an http(s) URL: {template}", jwt);
    }

    /// <summary>A level-1 URI template: <c>{job_id}</c> becomes the job's id, any other variable nothing (RFC 6570 leaves undefined ones out).</summary>
    internal static string Expand(string template, long jobId) =>
        TemplateVariable().Replace(template, m => m.Groups[1].Value == "job_id" ? jobId.ToString(CultureInfo.InvariantCulture) : "");

    private static string? Text(JsonObject node, string name) =>
        node[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    [GeneratedRegex(@"\{\+?([A-Za-z0-9_]+)\}")]
    private static partial Regex TemplateVariable();
}

/// <summary>A fetched job that can't be reported on (no JWT, no state or log URL); deleted from job-board when <see cref="Jwt"/> allows.</summary>
internal sealed class UnreportableJobException(string message, string? jwt) : Exception(message)
{
    public string? Jwt { get; } = jwt;
}
