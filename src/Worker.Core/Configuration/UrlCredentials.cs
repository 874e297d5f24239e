using System.Net.Http.Headers;
using System.Text;

namespace Worker.Core.Configuration;

/// <summary>A URL's user info as travis-worker's Go client used it: basic authentication, unescaped, and the URL without it.</summary>
public static class UrlCredentials
{
    /// <summary>The user info as basic authentication; null when the URL has none.</summary>
    public static AuthenticationHeaderValue? Basic(Uri url)
    {
        if (url.UserInfo.Length == 0)
        {
            return null;
        }
        var parts = url.UserInfo.Split(':', 2);
        var credentials = Uri.UnescapeDataString(parts[0]) + ":" + (parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : "");
        return new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
    }

    /// <summary>The URL without its user info.</summary>
    public static Uri Without(Uri url) => new UriBuilder(url) { UserName = "", Password = "" }.Uri;
}
