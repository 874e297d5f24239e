using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Worker.Core.Security;
using Worker.TestSupport;

namespace Worker.Docker.Tests;

/// <summary>
/// The local engine behind a TLS listener on loopback, as dockerd with <c>--tlsverify</c> serves a
/// remote host: the server presents a certificate from <see cref="Certificates"/>' CA and accepts
/// only clients whose certificate that CA signed, then passes bytes to and from the engine's socket.
/// </summary>
public sealed class TlsDockerProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly X509Certificate2 _serverCertificate;
    private readonly X509Certificate2 _ca;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _refused;

    public TlsDockerProxy()
    {
        Certificates = TestCertificates.Create();
        _serverCertificate = X509Certificate2.CreateFromPem(Certificates.ServerPem, Certificates.ServerKeyPem);
        _ca = X509Certificate2.CreateFromPem(Certificates.CaPem);
        _listener.Start();
        Endpoint = new Uri($"tcp://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
        _accepting = AcceptAsync();
    }

    public TestCertificates Certificates { get; }

    public Uri Endpoint { get; }

    /// <summary>Handshakes that failed: no client certificate, or one another CA signed.</summary>
    public int Refused => Volatile.Read(ref _refused);

    /// <summary>Writes ca.pem, cert.pem and key.pem as a DOCKER_CERT_PATH directory; <paramref name="caPem"/> replaces the CA the client trusts.</summary>
    public string WriteCertPath(string directory, string? caPem = null)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "ca.pem"), caPem ?? Certificates.CaPem);
        File.WriteAllText(Path.Combine(directory, "cert.pem"), Certificates.ClientPem);
        File.WriteAllText(Path.Combine(directory, "key.pem"), Certificates.ClientKeyPem);
        return directory;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        _stop.Dispose();
        _serverCertificate.Dispose();
        _ca.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            await using var tls = new SslStream(client.GetStream(), leaveInnerStreamOpen: false,
                (_, certificate, _, errors) => certificate is not null && PinnedCaTrust.IsTrusted(_ca, certificate, errors & ~SslPolicyErrors.RemoteCertificateNameMismatch));
            try
            {
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = _serverCertificate,
                    ClientCertificateRequired = true,
                    EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                }, _stop.Token);
            }
            catch (Exception e) when (e is AuthenticationException or IOException)
            {
                Interlocked.Increment(ref _refused);
                return;
            }
            using var engine = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await engine.ConnectAsync(new UnixDomainSocketEndPoint(DockerEngine.Endpoint.AbsolutePath), _stop.Token);
            await using var engineStream = new NetworkStream(engine, ownsSocket: false);
            var up = PumpAsync(tls, engineStream, () => engine.Shutdown(SocketShutdown.Send));
            var down = PumpAsync(engineStream, tls, () => { });
            await Task.WhenAny(down, Task.WhenAll(up, down));
        }
    }

    private async Task PumpAsync(Stream from, Stream to, Action ended)
    {
        try
        {
            await from.CopyToAsync(to, _stop.Token);
            ended();
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }
}
