using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>Stop deletes the VM and, unless SKIP_STOP_POLL, waits until the delete operation is done.</summary>
[Trait("Category", "Integration")]
public sealed class GceStopTests : IAsyncLifetime
{
    private GceTestBed _bed = null!;

    public async Task InitializeAsync() => _bed = await GceTestBed.StartAsync();

    public async Task DisposeAsync() => await _bed.DisposeAsync();

    [Theory]
    [InlineData("false", 2)]
    [InlineData("true", 0)]
    public async Task Stop_deletes_the_VM_and_polls_its_operation_unless_told_not_to(string skipStopPoll, int pollsAfterDelete)
    {
        var backend = _bed.Backend(("GCE_SKIP_STOP_POLL", skipStopPoll));
        var instance = await backend.StartAsync(_bed.Attributes(), _bed.ProgressSink(), CancellationToken.None);
        var before = _bed.Fake.Requests.Count;

        await instance.StopAsync(CancellationToken.None);

        var after = _bed.Fake.Requests.Skip(before).Select(r => r.Call).ToList();
        Assert.Equal(FakeCall.DeleteInstance, after[0]);
        Assert.Equal(pollsAfterDelete, after.Count(c => c == FakeCall.ZoneOperation));
        Assert.Empty(_bed.Fake.InstanceNames);
    }
}
