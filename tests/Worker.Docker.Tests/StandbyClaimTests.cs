using Worker.Core.Backends;

namespace Worker.Docker.Tests;

public sealed class StandbyClaimTests
{
    [Fact]
    public void A_claimed_standby_name_gives_back_its_job_id_and_deadline()
    {
        var name = StandbyClaim.Name(123456, 1_900_000_000, "abcdef012345");

        Assert.True(StandbyClaim.TryParse("/" + name, out var jobId, out var deadline));
        Assert.Equal(123456, jobId);
        Assert.Equal(1_900_000_000, deadline);
    }

    [Fact]
    public void The_inventory_turns_a_taken_standbys_name_into_job_labels_and_leaves_others_alone()
    {
        var standby = new Dictionary<string, string> { [MachineLabels.Fleet] = "f", [MachineLabels.Standby] = "true", [MachineLabels.Deadline] = "5" };

        var taken = DockerInventory.EffectiveLabels(StandbyClaim.Name(42, 99, "abc"), standby);
        var idle = DockerInventory.EffectiveLabels("worker-standby-abc", standby);
        var job = DockerInventory.EffectiveLabels(StandbyClaim.Name(42, 99, "abc"), new Dictionary<string, string> { [MachineLabels.JobId] = "7" });

        Assert.Equal("42", taken[MachineLabels.JobId]);
        Assert.Equal("99", taken[MachineLabels.Deadline]);
        Assert.Equal("taken", taken[MachineLabels.Standby]);
        Assert.Equal("5", idle[MachineLabels.Deadline]);
        Assert.False(idle.ContainsKey(MachineLabels.JobId));
        Assert.Equal("7", job[MachineLabels.JobId]);
    }

    [Fact]
    public void An_idle_standbys_deadline_is_the_end_of_its_workers_lease()
    {
        var standby = new Dictionary<string, string> { [MachineLabels.Fleet] = "f", [MachineLabels.Standby] = "true", [MachineLabels.Deadline] = "1900000000" };
        var name = StandbyLease.Name("abc123", 1_800_000_120);

        var idle = DockerInventory.EffectiveLabels(name, standby);

        Assert.True(StandbyLease.TryParse("/" + name, out var suffix, out var until));
        Assert.Equal(("abc123", 1_800_000_120L), (suffix, until));
        Assert.Equal("1800000120", idle[MachineLabels.Deadline]);
        Assert.Equal("true", idle[MachineLabels.Standby]);
        Assert.False(StandbyLease.TryParse("worker-standby-abc123", out _, out _)); // an older worker's, without a lease
    }
}
