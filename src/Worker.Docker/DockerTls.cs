using System.Security.Cryptography.X509Certificates;
using Docker.DotNet.Handler.Abstractions;
using Docker.DotNet.X509;
using Worker.Core.Security;

namespace Worker.Docker;

/// <summary>
/// Mutual TLS to a remote engine from a <c>DOCKER_CERT_PATH</c>-style directory: this worker's
/// certificate (cert.pem, key.pem) goes to the engine, and the engine's must chain to ca.pem and
/// name the host dialled, as <c>docker --tlsverify</c> checks.
/// </summary>
public static class DockerTls
{
    public static IAuthProvider Credentials(string directory)
    {
        var client = X509Certificate2.CreateFromPemFile(Path.Combine(directory, "cert.pem"), Path.Combine(directory, "key.pem"));
        var ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(directory, "ca.pem"));
        return new CertificateCredentials(client)
        {
            ServerCertificateValidationCallback = PinnedCaTrust.For(ca),
        };
    }
}
