using System.Collections.Concurrent;

namespace Worker.Core.Logs;

/// <summary>
/// The secret values of the jobs running in this process, so that the worker's own log (stderr,
/// the log file, OTLP) can mask them as the job log does: a job's outcome may quote what the job
/// sent, such as a script entry the generator refused. A job's secrets are registered for as long
/// as it runs.
/// </summary>
public static class RunningJobSecrets
{
    private static readonly ConcurrentDictionary<object, string[]> Jobs = new();
    private static volatile bool _any;

    /// <summary>Whether any running job has a secret (the cheap check before <see cref="Mask"/>).</summary>
    public static bool Any => _any;

    /// <summary>Registers <paramref name="secrets"/> until the returned handle is disposed.</summary>
    public static IDisposable Register(IEnumerable<string> secrets)
    {
        var values = secrets.Where(s => s.Length > 0).Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length).ToArray();
        var key = new object();
        if (values.Length > 0)
        {
            Jobs[key] = values;
            _any = true;
        }
        return new Registration(key);
    }

    /// <summary><paramref name="text"/> with every running job's secret replaced by <c>[secure]</c> (the same string when none is in it).</summary>
    public static string Mask(string text)
    {
        if (!_any)
        {
            return text;
        }
        foreach (var secrets in Jobs.Values)
        {
            foreach (var secret in secrets)
            {
                if (text.Contains(secret, StringComparison.Ordinal))
                {
                    text = text.Replace(secret, SecretMasker.Mask, StringComparison.Ordinal);
                }
            }
        }
        return text;
    }

    private sealed class Registration(object key) : IDisposable
    {
        public void Dispose()
        {
            if (Jobs.TryRemove(key, out _))
            {
                _any = !Jobs.IsEmpty;
            }
        }
    }
}
