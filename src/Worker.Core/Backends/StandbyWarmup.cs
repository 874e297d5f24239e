namespace Worker.Core.Backends;

/// <summary>
/// A script run in a standby machine once it has booted, before any job may take it (Cirrus's
/// <c>standby.warmup</c>): to fill caches the jobs will use. A warm-up that outlasts
/// <see cref="Timeout"/> is stopped and the machine offered anyway; one that fails (non-zero exit,
/// a broken session) fails the machine's boot. A backend whose tool ignores warm-ups says so.
/// </summary>
/// <param name="Script">Shell commands, written into the machine's login shell.</param>
/// <param name="Timeout">How long the script may run; zero: no limit.</param>
public sealed record StandbyWarmup(string Script, TimeSpan Timeout);
