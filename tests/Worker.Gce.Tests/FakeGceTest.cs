using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>A test class with its own fake Compute API, started before each test and stopped after it.</summary>
public abstract class FakeGceTest(bool bootVms) : IAsyncLifetime
{
    protected GceTestBed Bed { get; private set; } = null!;

    protected FakeComputeApi Fake => Bed.Fake;

    public virtual async Task InitializeAsync() => Bed = await GceTestBed.StartAsync(bootVms);

    public async Task DisposeAsync() => await Bed.DisposeAsync();
}
