using System.Security.Cryptography;
using System.Text;
using Worker.Core.Security;

namespace Worker.Ssh;

internal enum KnownHostsMarker
{
    None,
    CertAuthority,
    Revoked,
}

/// <summary>One key line of a known_hosts file: <c>[@marker] names keytype base64-key [comment]</c>.</summary>
internal sealed class KnownHostsLine
{
    private const string HashPrefix = "|1|";

    private readonly string _names;
    private readonly byte[] _key;

    private KnownHostsLine(int number, KnownHostsMarker marker, string names, byte[] key)
    {
        Number = number;
        Marker = marker;
        _names = names;
        _key = key;
    }

    public int Number { get; }
    public KnownHostsMarker Marker { get; }

    public static KnownHostsLine Parse(string line, int number)
    {
        var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var marker = KnownHostsMarker.None;
        var at = 0;
        if (fields[0].StartsWith('@'))
        {
            marker = fields[0] switch
            {
                "@cert-authority" => KnownHostsMarker.CertAuthority,
                "@revoked" => KnownHostsMarker.Revoked,
                _ => throw new FormatException($"unknown marker {fields[0]} (known: @cert-authority, @revoked)"),
            };
            at = 1;
        }
        if (fields.Length < at + 3)
        {
            throw new FormatException("expected host names, a key type and a base64 key");
        }
        var (names, type, base64) = (fields[at], fields[at + 1], fields[at + 2]);
        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new FormatException($"the {type} key is not base64");
        }
        if (PresentedHostKey.KeyTypeOf(key) != type)
        {
            throw new FormatException($"the key is not a {type} key");
        }
        if (names.StartsWith(HashPrefix, StringComparison.Ordinal))
        {
            var parts = names[HashPrefix.Length..].Split('|');
            if (parts.Length != 2 || !IsBase64(parts[0]) || !IsBase64(parts[1]))
            {
                throw new FormatException("a hashed host name is |1|salt|hash, both base64");
            }
        }
        return new KnownHostsLine(number, marker, names, key);
    }

    public bool HasKey(PresentedHostKey key) => _key.AsSpan().SequenceEqual(key.Blob);

    /// <param name="name">Lower case, <c>[host]:port</c> for a port other than 22.</param>
    public bool MatchesHost(string name)
    {
        if (_names.StartsWith(HashPrefix, StringComparison.Ordinal))
        {
            var parts = _names[HashPrefix.Length..].Split('|');
            // OpenSSH's hashed names are HMAC-SHA1 by definition; the file format leaves no choice.
#pragma warning disable CA5350
            var hash = HMACSHA1.HashData(Convert.FromBase64String(parts[0]), Encoding.UTF8.GetBytes(name));
#pragma warning restore CA5350
            return CryptographicOperations.FixedTimeEquals(hash, Convert.FromBase64String(parts[1]));
        }
        // As OpenSSH's match_hostname: a matching negated pattern rules the line out whatever else matches.
        var matched = false;
        foreach (var pattern in _names.ToLowerInvariant().Split(','))
        {
            if (pattern.StartsWith('!'))
            {
                if (new Glob(pattern[1..]).IsMatch(name))
                {
                    return false;
                }
            }
            else if (new Glob(pattern).IsMatch(name))
            {
                matched = true;
            }
        }
        return matched;
    }

    private static bool IsBase64(string text) => Convert.TryFromBase64String(text, new byte[text.Length], out _);
}
