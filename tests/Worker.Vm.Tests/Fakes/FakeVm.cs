using Worker.TestSupport;

namespace Worker.Vm.Tests.Fakes;

/// <summary>
/// One VM of the stand-in: what clone and set gave it, and while it runs, its IP address and its
/// "guest": a real sshd (<see cref="TestSshd"/>) on that address, in a namespace of its own, with the
/// image's one account and a fresh home that is this VM's own.
/// </summary>
public sealed class FakeVm(string name, FakeVmImage image, string dir, string mac, bool golden)
{
    public string Name { get; } = name;
    public FakeVmImage Image { get; } = image;

    /// <summary>The VM's folder: its sshd's config and host key, and the guest user's home.</summary>
    public string Dir { get; } = dir;

    /// <summary>A golden image the test put there (not made by clone).</summary>
    public bool Golden { get; } = golden;

    public string Mac { get; set; } = mac;
    public int Cpu { get; set; } = image.Cpu;
    public long MemoryMib { get; set; } = image.MemoryMib;
    public int DiskGb { get; set; } = image.DiskGb;
    public string Display { get; set; } = "1024x768";

    public bool Running { get; set; }

    /// <summary>The flags of the last <c>run</c>.</summary>
    public IReadOnlyList<string> RunFlags { get; set; } = [];

    /// <summary>The address <c>ip</c> answers once the VM booted; null before.</summary>
    public string? Ip { get; set; }

    /// <summary>The guest's sshd while the VM runs.</summary>
    public TestSshd? Sshd { get; set; }

    /// <summary>The guest user's home as the test sees it.</summary>
    public string Home => Path.Combine(Dir, "home");

    internal TaskCompletionSource<(int Code, string? Error)>? RunEnded { get; set; }

    internal CancellationTokenSource? Boot { get; set; }
}
