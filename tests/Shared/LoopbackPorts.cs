using System.Net;
using System.Net.Sockets;

namespace Worker.TestSupport;

/// <summary>Loopback ports for test servers, and for addresses where nothing listens.</summary>
public static class LoopbackPorts
{
    /// <summary>A loopback port nothing listens on (yet).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
