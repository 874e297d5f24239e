namespace Worker.Cirrus.Tests.Fakes;

/// <summary>
/// The VM stand-ins' guests are one machine (the test sshd on this host), so the agent each task
/// copies to <c>/tmp/cirrus-ci/cirrus</c> lands on the same path: tests with VM tasks take turns, as
/// tasks in real VMs never share a disk.
/// </summary>
[CollectionDefinition(Name)]
public sealed class VmGuestCollection
{
    public const string Name = "VM stand-in guests";
}
