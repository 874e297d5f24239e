namespace Worker.Core.Backends;

/// <summary>
/// What a caller asks an <see cref="IStandbyHost"/> to keep booted: the machine, as a job would ask
/// for it, and what is done around each standby's boot.
/// </summary>
/// <param name="Machine">What the standby is made of; the job that asks for exactly this takes it.</param>
public sealed record StandbyRequest(StartAttributes Machine)
{
    /// <summary>Run in each standby once it has booted, before it is offered; null: none.</summary>
    public StandbyWarmup? Warmup { get; init; }

    /// <summary>
    /// Awaited before each standby's boot starts (the Cirrus bridge's <c>tart-pre-pull</c>, which
    /// cirrus-cli runs just before it makes a standby). Should not throw; if it does, the boot goes on.
    /// </summary>
    public Func<CancellationToken, Task>? BeforeEachBoot { get; init; }
}
