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
        return Drain(endOfStream: false);
    }

    /// <summary>Everything held back, masked; at the end of the stream nothing can grow into a longer secret any more.</summary>
    public string Flush() => Drain(endOfStream: true);

    /// <summary>Masks a complete text in one go (for messages written whole); what <see cref="Push"/> holds back is left alone.</summary>
    public string MaskAll(string text) => Scan(text, endOfStream: true, out _);

    private string Drain(bool endOfStream)
    {
        var masked = Scan(_pending.ToString(), endOfStream, out var consumed);
        _pending.Remove(0, consumed);
        return masked;
    }

    /// <summary>
    /// Masks from the left, the longest secret at each position. Unless the stream has ended, stops
    /// where the rest of the text could still grow into a secret: also when a shorter secret matches
    /// there already, since the longer one (<c>abc</c> of <c>abcdef</c>) must win once it arrives.
    /// </summary>
    private string Scan(string text, bool endOfStream, out int consumed)
    {
        var masked = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            if (!endOfStream && CouldStartSecret(text, i))
            {
                break;
            }
            var matched = MatchAt(text, i);
            if (matched > 0)
            {
                masked.Append(Mask);
                i += matched;
            }
            else
            {
                masked.Append(text[i]);
                i++;
            }
        }
        consumed = i;
        return masked.ToString();
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
