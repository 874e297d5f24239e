namespace Worker.Chaos;

/// <summary>A network namespace joined to the host by a veth pair (host side <c>HostAddress</c>, namespace side <c>InsideAddress</c>); removed on dispose.</summary>
internal sealed class VethNamespace : IAsyncDisposable
{
    private readonly string _hostSide;

    private VethNamespace(string ns, string hostSide, string hostAddress, string insideAddress)
    {
        Namespace = ns;
        _hostSide = hostSide;
        HostAddress = hostAddress;
        InsideAddress = insideAddress;
    }

    public string Namespace { get; }
    public string HostAddress { get; }
    public string InsideAddress { get; }

    public static async Task<VethNamespace> CreateAsync(string ns, string hostSide, string inside, string hostAddress, string insideAddress)
    {
        var link = new VethNamespace(ns, hostSide, hostAddress, insideAddress);
        await IpAsync("netns", "add", ns);
        await IpAsync("link", "add", hostSide, "type", "veth", "peer", "name", inside);
        await IpAsync("link", "set", inside, "netns", ns);
        await IpAsync("addr", "add", hostAddress + "/24", "dev", hostSide);
        await IpAsync("link", "set", hostSide, "up");
        await IpAsync("netns", "exec", ns, "ip", "addr", "add", insideAddress + "/24", "dev", inside);
        await IpAsync("netns", "exec", ns, "ip", "link", "set", inside, "up");
        await IpAsync("netns", "exec", ns, "ip", "link", "set", "lo", "up");
        return link;
    }

    public Task SetHostSideAsync(bool up) => IpAsync("link", "set", _hostSide, up ? "up" : "down");

    private static async Task IpAsync(params string[] args)
    {
        var (exit, output) = await DockerLeftovers.RunAsync("ip", args, []);
        if (exit != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)}: {output}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DockerLeftovers.RunAsync("ip", ["link", "del", _hostSide], []);
        await DockerLeftovers.RunAsync("ip", ["netns", "del", Namespace], []);
    }
}
