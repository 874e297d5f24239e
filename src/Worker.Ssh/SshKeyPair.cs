using System.Security.Cryptography;
using System.Text;
using Renci.SshNet;

namespace Worker.Ssh;

/// <summary>
/// A fresh RSA key pair for one job's machine: the public half goes onto the machine (GCE: into the
/// VM's <c>ssh-keys</c> metadata), the private half never leaves this process. travis-worker used one
/// key per process, so any job VM of a host could be reached with any other job's key.
/// </summary>
public sealed class SshKeyPair
{
    private readonly string _privatePem;

    private SshKeyPair(string privatePem, string publicKey)
    {
        _privatePem = privatePem;
        PublicKey = publicKey;
    }

    /// <summary>The public key in OpenSSH format: <c>ssh-rsa AAAA...</c>.</summary>
    public string PublicKey { get; }

    public static SshKeyPair Create()
    {
        using var rsa = RSA.Create(2048);
        var parameters = rsa.ExportParameters(false);
        using var blob = new MemoryStream();
        WriteString(blob, Encoding.ASCII.GetBytes("ssh-rsa"));
        WriteString(blob, MpInt(parameters.Exponent!));
        WriteString(blob, MpInt(parameters.Modulus!));
        return new SshKeyPair(rsa.ExportRSAPrivateKeyPem(), "ssh-rsa " + Convert.ToBase64String(blob.ToArray()));
    }

    /// <summary>The line for GCE's <c>ssh-keys</c> metadata: <c>user:ssh-rsa AAAA... comment</c>.</summary>
    public string MetadataLine(string user, string comment) => $"{user}:{PublicKey} {comment}";

    internal PrivateKeyFile OpenPrivateKey() => new(new MemoryStream(Encoding.ASCII.GetBytes(_privatePem)));

    // RFC 4251: an mpint is big-endian two's complement, so a set high bit needs a leading zero.
    private static byte[] MpInt(byte[] unsigned) =>
        unsigned.Length > 0 && (unsigned[0] & 0x80) != 0 ? [0, .. unsigned] : unsigned;

    private static void WriteString(Stream stream, byte[] bytes)
    {
        Span<byte> length = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
        stream.Write(length);
        stream.Write(bytes);
    }
}
