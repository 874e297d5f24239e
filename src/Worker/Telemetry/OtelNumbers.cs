using System.Globalization;
using Worker.Core.Configuration;

namespace Worker.Telemetry;

/// <summary>Whole-number <c>OTEL_*</c> variables (timeouts, intervals, batch sizes): a bad value stops start-up naming the variable.</summary>
internal static class OtelNumbers
{
    /// <param name="expected">What the variable takes, for the error: "a positive number of milliseconds".</param>
    public static int Positive(string variable, string text, string expected) =>
        int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new InvalidSettingException(variable, text, expected);

    /// <summary>The variable's value, or <paramref name="defaultValue"/> when it is unset.</summary>
    public static int Positive(SettingsSource env, string variable, int defaultValue, string expected) =>
        env.Raw(variable) is { } text ? Positive(variable, text, expected) : defaultValue;
}
