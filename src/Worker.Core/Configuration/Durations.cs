using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Worker.Core.Configuration;

/// <summary>
/// Go-style durations as travis-worker takes them: <c>90s</c>, <c>5m</c>, <c>1h30m</c>, <c>250ms</c>,
/// <c>.5s</c>, and Go's <c>us</c>/<c>µs</c> and <c>ns</c>; a bare number is seconds.
/// </summary>
public static partial class Durations
{
    [GeneratedRegex(@"^(?:(?<n>\d+(?:\.\d*)?|\.\d+)(?<u>ns|us|\u00b5s|\u03bcs|ms|h|m|s))+$")]
    private static partial Regex GoDuration();

    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        text = text.Trim();
        if (text.Length == 0)
        {
            return false;
        }
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            if (seconds < 0 || double.IsNaN(seconds) || double.IsInfinity(seconds))
            {
                return false;
            }
            return TrySum(() => TimeSpan.FromSeconds(seconds), out duration);
        }
        var match = GoDuration().Match(text);
        if (!match.Success)
        {
            return false;
        }
        var numbers = match.Groups["n"].Captures;
        var units = match.Groups["u"].Captures;
        return TrySum(() =>
        {
            var total = TimeSpan.Zero;
            for (var i = 0; i < numbers.Count; i++)
            {
                var n = double.Parse(numbers[i].Value, CultureInfo.InvariantCulture);
                total += units[i].Value switch
                {
                    "h" => TimeSpan.FromHours(n),
                    "m" => TimeSpan.FromMinutes(n),
                    "s" => TimeSpan.FromSeconds(n),
                    "ms" => TimeSpan.FromMilliseconds(n),
                    "ns" => TimeSpan.FromTicks((long)(n / 100)),
                    _ => TimeSpan.FromMicroseconds(n),
                };
            }
            return total;
        }, out duration);
    }

    /// <summary>A duration too long for a TimeSpan is not a duration: false, not an OverflowException.</summary>
    private static bool TrySum(Func<TimeSpan> sum, out TimeSpan duration)
    {
        try
        {
            duration = sum();
            return true;
        }
        catch (OverflowException)
        {
            duration = TimeSpan.Zero;
            return false;
        }
    }

    public static TimeSpan Parse(string text) =>
        TryParse(text, out var d) ? d : throw new FormatException($"'{text}' is not a duration such as 90s, 5m or 1h30m");

    /// <summary>Formats as the shortest Go-style text, e.g. <c>1h30m</c>, <c>3s</c>, <c>500ms</c>.</summary>
    public static string Format(TimeSpan duration)
    {
        if (duration == TimeSpan.Zero)
        {
            return "0s";
        }
        var sb = new StringBuilder();
        if (duration.TotalHours >= 1)
        {
            sb.Append((int)duration.TotalHours).Append('h');
        }
        if (duration.Minutes > 0)
        {
            sb.Append(duration.Minutes).Append('m');
        }
        if (duration.Seconds > 0)
        {
            sb.Append(duration.Seconds).Append('s');
        }
        if (duration.Milliseconds > 0)
        {
            sb.Append(duration.Milliseconds).Append("ms");
        }
        return sb.ToString();
    }
}
