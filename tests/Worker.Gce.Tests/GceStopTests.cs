using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>Stop deletes the VM and, unless SKIP_STOP_POLL, waits until the delete operation is done (one zoneOperations.wait).</summary>
[Trait("Category", "Integration")]
public sealed class GceStopTests() : FakeGceTest(bootVms: true)
{
    [Theory]
    [InlineData("false", 1)]
    [InlineData("true", 0)]
    public async Task Stop_deletes_the_VM_and_polls_its_operation_unless_told_not_to(string skipStopPoll, int pollsAfterDelete)
    {
        var backend = Bed.Backend(("GCE_SKIP_STOP_POLL", skipStopPoll));
        var instance = await backend.StartAsync(Bed.Attributes(), Bed.ProgressSink(), CancellationToken.None);
        var before = Bed.Fake.Requests.Count;

        await instance.StopAsync(CancellationToken.None);

        var after = Bed.Fake.Requests.Skip(before).Select(r => r.Call).ToList();
        Assert.Equal(FakeCall.DeleteInstance, after[0]);
        Assert.Equal(pollsAfterDelete, after.Count(c => c == FakeCall.ZoneOperation));
        Assert.Empty(Bed.Fake.InstanceNames);
    }
}
