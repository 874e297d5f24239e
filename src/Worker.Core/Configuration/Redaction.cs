using System.Text.RegularExpressions;

namespace Worker.Core.Configuration;

/// <summary>
/// What a message may show of a setting's value: nothing of a secret one, and no password of a URI
/// (<c>scheme://user:password@host</c>) in any other, so a start-up error or <c>worker config</c>
/// never carries a credential into a terminal or a log collector.
/// </summary>
public static partial class Redaction
{
    public const string Mark = "[redacted]";

    public static string Show(string? value, bool secret)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }
        return secret ? Mark : UriPassword().Replace(value, "${user}" + Mark + "@");
    }

    // The user part stops at the first ':'; the password runs to the last '@' before the path.
    [GeneratedRegex(@"(?<user>://[^/:@\s]*:)[^/\s]*@")]
    private static partial Regex UriPassword();
}
