namespace Worker.Vm.Tests.Fakes;

/// <summary>A golden image the stand-in can clone: its guest OS, the one account its sshd lets in, and its size.</summary>
public sealed record FakeVmImage(string Os, string User)
{
    public int Cpu { get; init; } = 4;
    public long MemoryMib { get; init; } = 8192;
    public int DiskGb { get; init; } = 50;
}
