namespace Worker.Gce;

/// <summary>
/// The GCE metadata server, asked only when this process runs on a GCE VM (told by the DMI product
/// name, as Google's client libraries do), so a worker elsewhere sends nothing to a name it can't resolve.
/// </summary>
public static class GceMetadata
{
    private static readonly Uri Base = new("http://metadata.google.internal/computeMetadata/v1/");

    public static bool IsOnGce()
    {
        try
        {
            return File.ReadAllText("/sys/class/dmi/id/product_name").Contains("Google", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A metadata value such as <c>project/project-id</c> or <c>instance/name</c>; null off GCE or when it can't be read.</summary>
    public static string? Get(string path)
    {
        if (!IsOnGce())
        {
            return null;
        }
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Base, path));
        request.Headers.Add("Metadata-Flavor", "Google");
        try
        {
            using var response = http.Send(request);
            return response.IsSuccessStatusCode ? new StreamReader(response.Content.ReadAsStream()).ReadToEnd().Trim() : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }
}
