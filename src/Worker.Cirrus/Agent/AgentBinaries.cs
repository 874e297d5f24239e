using System.Net;

namespace Worker.Cirrus.Agent;

/// <summary>
/// The agent binary for a version, OS and architecture, from cirrus-cli's cache
/// (<c>&lt;user cache dir&gt;/cirrus/agent/cirrus-&lt;version&gt;-&lt;os&gt;-&lt;arch&gt;</c>, the same
/// file cirrus-cli uses, so a cache it filled, or one seeded by hand, works offline), downloaded
/// from <see cref="CirrusOptions.AgentUrl"/> when missing: to a temporary file, made executable,
/// then renamed into place so no task ever sees half a binary.
/// </summary>
public sealed class AgentBinaries(string userCacheDirectory, string urlTemplate, HttpClient http)
{
    private readonly SemaphoreSlim _download = new(1, 1);

    public string Directory { get; } = Path.Combine(userCacheDirectory, "cirrus", "agent");

    /// <summary>Go's <c>os.UserCacheDir</c>: <c>$XDG_CACHE_HOME</c>, else <c>$HOME/.cache</c> (macOS: <c>$HOME/Library/Caches</c>).</summary>
    public static string UserCacheDirectory(Func<string, string?> environment, bool macOs = false)
    {
        if (macOs)
        {
            return Path.Combine(Home(environment), "Library", "Caches");
        }
        return environment("XDG_CACHE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Home(environment), ".cache");
    }

    public string PathFor(string version, string os, string arch) =>
        Path.Combine(Directory, $"cirrus-{version}-{os}-{arch}{(os == "windows" ? ".exe" : "")}");

    public string UrlFor(string version, string os, string arch) =>
        urlTemplate.Replace("{version}", version, StringComparison.Ordinal)
            .Replace("{os}", os, StringComparison.Ordinal)
            .Replace("{arch}", arch, StringComparison.Ordinal)
            .Replace("{ext}", os == "windows" ? ".exe" : "", StringComparison.Ordinal);

    /// <summary>The cached binary's path, downloading it first when the cache lacks it.</summary>
    /// <exception cref="AgentUnavailableException">Neither the cache nor the download has it.</exception>
    public async Task<string> ResolveAsync(string version, string os, string arch, CancellationToken ct)
    {
        var path = PathFor(version, os, arch);
        if (File.Exists(path))
        {
            return path;
        }
        await _download.WaitAsync(ct);
        try
        {
            if (File.Exists(path))
            {
                return path;
            }
            System.IO.Directory.CreateDirectory(Directory);
            await DownloadAsync(UrlFor(version, os, arch), path, ct);
            return path;
        }
        finally
        {
            _download.Release();
        }
    }

    private async Task DownloadAsync(string url, string path, CancellationToken ct)
    {
        var temporary = Path.Combine(Directory, $".download-{Guid.NewGuid():N}");
        try
        {
            using (var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct))
            {
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    throw new AgentUnavailableException(
                        $"the Cirrus agent is not in {path} and {url} answered HTTP {(int)response.StatusCode}");
                }
                await using var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write);
                await response.Content.CopyToAsync(file, ct);
            }
            // 0544 as cirrus-cli writes it: executable, not writable.
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            File.Move(temporary, path, overwrite: false);
        }
        catch (HttpRequestException e)
        {
            throw new AgentUnavailableException($"the Cirrus agent is not in {path} and downloading {url} failed: {e.Message}");
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another worker on this host put it there first.
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static string Home(Func<string, string?> environment) =>
        environment("HOME") is { Length: > 0 } home ? home : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
}

/// <summary>The agent a task needs can't be had; the task fails with this message.</summary>
public sealed class AgentUnavailableException(string message) : Exception(message);
