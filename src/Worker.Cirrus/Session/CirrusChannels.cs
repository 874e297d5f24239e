using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Grpc.Net.Client;

namespace Worker.Cirrus.Session;

/// <summary>
/// A gRPC channel to a Cirrus endpoint as cirrus-cli dials it: <c>http://host:port</c> is plaintext
/// (h2c), <c>unix:path</c> a plaintext Unix socket, anything else TLS 1.2 or 1.3 (<c>https://</c> optional).
/// </summary>
public static class CirrusChannels
{
    /// <summary>
    /// Beyond cirrus-cli (TLS 1.3 only, which Go does itself): .NET on macOS, where Tart hosts run,
    /// speaks TLS 1.3 only through Network.framework, which needs an opt-in; the OS picks 1.3 or 1.2.
    /// </summary>
    public const SslProtocols TlsVersions = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>The dial target and whether it is plaintext (cirrus-cli's <c>grpchelper.TransportSettings</c>).</summary>
    public static (string Target, bool Plaintext) TransportOf(string endpoint)
    {
        if (endpoint.StartsWith("http://", StringComparison.Ordinal))
        {
            return (endpoint["http://".Length..], true);
        }
        if (endpoint.StartsWith("unix:", StringComparison.Ordinal))
        {
            return (endpoint, true);
        }
        return (endpoint.StartsWith("https://", StringComparison.Ordinal) ? endpoint["https://".Length..] : endpoint, false);
    }

    /// <param name="endpoint">The configured endpoint.</param>
    /// <param name="validateServer">Trust for TLS endpoints; null: the system's roots.</param>
    public static GrpcChannel Open(string endpoint, RemoteCertificateValidationCallback? validateServer = null)
    {
        var (target, plaintext) = TransportOf(endpoint);
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
        };
        string address;
        if (target.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = SocketPath(target);
            handler.ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
            address = "http://localhost";
        }
        else if (plaintext)
        {
            address = "http://" + target;
        }
        else
        {
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                EnabledSslProtocols = TlsVersions,
                RemoteCertificateValidationCallback = validateServer,
            };
            address = "https://" + target;
        }
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    /// <summary>gRPC's unix target forms: <c>unix:relative</c>, <c>unix:/abs</c>, <c>unix:///abs</c>.</summary>
    public static string SocketPath(string target)
    {
        var path = target["unix:".Length..];
        return path.StartsWith("//", StringComparison.Ordinal) ? path[2..] : path;
    }
}
