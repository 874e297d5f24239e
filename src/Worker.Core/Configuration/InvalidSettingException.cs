namespace Worker.Core.Configuration;

/// <summary>
/// A setting whose value can't be used. The message is the one line an operator sees; the value in
/// it (and in <see cref="Value"/>) is shown as <see cref="Redaction"/> allows, never a secret.
/// </summary>
public sealed class InvalidSettingException : Exception
{
    public InvalidSettingException(string variable, string? value, string allowed, bool secret = false)
        : base($"{variable}={Redaction.Show(value, secret)} is not valid: {allowed}")
    {
        Variable = variable;
        Value = Redaction.Show(value, secret);
        Allowed = allowed;
    }

    public string Variable { get; }

    /// <summary>The value as the message shows it (redacted).</summary>
    public string Value { get; }

    public string Allowed { get; }
}
