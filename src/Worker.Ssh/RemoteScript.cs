namespace Worker.Ssh;

/// <summary>A script already on the machine, and how to run it.</summary>
/// <param name="Path">The script, run with bash; relative to <see cref="WorkingDirectory"/>.</param>
public sealed record RemoteScript(string Path)
{
    /// <summary>Where the script runs; null: the login directory (the user's home).</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>
    /// Run it on a terminal, as a person's build would (colours, <c>test -t 1</c>). The terminal is
    /// made on the machine by util-linux <c>script</c>, since SSH.NET's exec channel can't ask for one.
    /// </summary>
    public bool Pty { get; init; }
}
