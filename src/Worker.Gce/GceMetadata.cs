namespace Worker.Gce;

/// <summary>
/// The GCE metadata server, asked only when this process runs on a GCE VM (told by the DMI product
/// name, as Google's client libraries do), so a worker elsewhere sends nothing to a name it can't
/// resolve. <c>GCE_METADATA_HOST</c> (host[:port]) names another metadata server, as it does for
/// Google's libraries (and so for Application Default Credentials): an emulator or a proxy; set, it
/// also says the process is on GCE.
/// </summary>
public static class GceMetadata
{
    public const string HostVariable = "GCE_METADATA_HOST";
    private static readonly Uri DefaultBase = new("http://metadata.google.internal/computeMetadata/v1/");

    /// <summary>
    /// The wait for each try: the server answers in milliseconds, but a VM busy starting up can keep
    /// it (or this process) waiting for seconds, and what is read here (the project) is needed to start.
    /// </summary>
    private static readonly TimeSpan[] Attempts = [TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10)];

    private static string? OverrideHost => Environment.GetEnvironmentVariable(HostVariable) is { Length: > 0 } host ? host : null;

    private static Uri Base => OverrideHost is { } host ? new Uri($"http://{host}/computeMetadata/v1/") : DefaultBase;

    public static bool IsOnGce()
    {
        if (OverrideHost is not null)
        {
            return true;
        }
        try
        {
            return File.ReadAllText("/sys/class/dmi/id/product_name").Contains("Google", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// A metadata value such as <c>project/project-id</c> or <c>instance/name</c>; null off GCE or
    /// when it can't be read. A slow or failing server (no answer in time, a 5xx) is asked again with
    /// more patience; a 404 means the value is not there.
    /// </summary>
    public static string? Get(string path)
    {
        if (!IsOnGce())
        {
            return null;
        }
        foreach (var patience in Attempts)
        {
            using var http = new HttpClient { Timeout = patience };
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Base, path));
            request.Headers.Add("Metadata-Flavor", "Google");
            try
            {
                // Async underneath: the synchronous Send could hand back a response whose content its
                // timeout had already disposed when the answer came close to the deadline.
                using var response = http.SendAsync(request).GetAwaiter().GetResult();
                if (response.IsSuccessStatusCode)
                {
                    return response.Content.ReadAsStringAsync().GetAwaiter().GetResult().Trim();
                }
                if ((int)response.StatusCode < 500)
                {
                    return null;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException or ObjectDisposedException)
            {
                // Unreachable, too slow or cut off this time.
            }
        }
        return null;
    }
}
