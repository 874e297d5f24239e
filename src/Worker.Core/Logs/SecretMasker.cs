using System.Text;

namespace Worker.Core.Logs;

/// <summary>
/// Replaces secret values by <c>[secure]</c> in a stream of text chunks, also when a secret is split
/// across two chunks: the tail of each chunk that could still grow into a secret is held back until
/// the next chunk (or the end) shows whether it does.
/// </summary>
public sealed class SecretMasker
{
    public const string Mask = "[secure]";

    private readonly string[] _secrets;
    private readonly StringBuilder _pending = new();

    public SecretMasker(IEnumerable<string> secrets)
    {
        // Longest first, so a secret that contains another is masked whole.
        _secrets = secrets.Where(s => s.Length > 0).Distinct(StringComparer.Ordinal)
            .OrderByDescending(s => s.Length).ToArray();
    }

    /// <summary>Text that is safe to emit now; some of the input may be held back.</summary>
    public string Push(string chunk)
    {
        if (_secrets.Length == 0)
        {
            return chunk;
        }
        _pending.Append(chunk);
        var text = _pending.ToString();
        var masked = new StringBuilder(text.Length);
        var i = 0;
        var safeEnd = 0;
        while (i < text.Length)
        {
            var matched = MatchAt(text, i);
            if (matched > 0)
            {
                masked.Append(Mask);
                i += matched;
                safeEnd = i;
                continue;
            }
            if (CouldStartSecret(text, i))
            {
                // A proper prefix of a secret runs to the end of the text: hold it back.
                break;
            }
            masked.Append(text[i]);
            i++;
            safeEnd = i;
        }
        _pending.Clear();
        _pending.Append(text, safeEnd, text.Length - safeEnd);
        return masked.ToString();
    }

    /// <summary>Everything held back; at the end of the stream it can't become a secret any more.</summary>
    public string Flush()
    {
        var rest = _pending.ToString();
        _pending.Clear();
        return rest;
    }

    /// <summary>Masks a complete text in one go (for messages written whole).</summary>
    public string MaskAll(string text)
    {
        foreach (var secret in _secrets)
        {
            text = text.Replace(secret, Mask, StringComparison.Ordinal);
        }
        return text;
    }

    private int MatchAt(string text, int index)
    {
        foreach (var secret in _secrets)
        {
            if (string.CompareOrdinal(text, index, secret, 0, secret.Length) == 0 && index + secret.Length <= text.Length)
            {
                return secret.Length;
            }
        }
        return 0;
    }

    private bool CouldStartSecret(string text, int index)
    {
        var remaining = text.Length - index;
        foreach (var secret in _secrets)
        {
            if (secret.Length > remaining && string.CompareOrdinal(text, index, secret, 0, remaining) == 0)
            {
                return true;
            }
        }
        return false;
    }
}
