using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Worker.Core.Security;

/// <summary>
/// Trust in a server that an operator's own CA signed (a broker, a Docker engine): its certificate
/// must chain to that CA alone, not to the system's roots, and name the host dialled.
/// </summary>
public static class PinnedCaTrust
{
    public static RemoteCertificateValidationCallback For(X509Certificate2 ca) => For(new X509Certificate2Collection(ca));

    /// <summary>Trust in a server whose certificate chains to any of <paramref name="cas"/> (a PEM bundle).</summary>
    public static RemoteCertificateValidationCallback For(X509Certificate2Collection cas) =>
        (_, certificate, _, errors) => IsTrusted(cas, certificate, errors);

    private static bool IsTrusted(X509Certificate2Collection cas, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) ||
            errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(cas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = new X509Certificate2(certificate);
        return chain.Build(presented);
    }
}
