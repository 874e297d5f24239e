namespace Worker.Core.Configuration;

/// <summary>A setting whose value can't be used. The message is the one line an operator sees.</summary>
public sealed class InvalidSettingException : Exception
{
    public InvalidSettingException(string variable, string? value, string allowed)
        : base($"{variable}={value} is not valid: {allowed}")
    {
        Variable = variable;
        Value = value;
        Allowed = allowed;
    }

    public string Variable { get; }
    public string? Value { get; }
    public string Allowed { get; }
}
