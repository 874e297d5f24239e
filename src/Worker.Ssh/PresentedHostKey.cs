using System.Buffers.Binary;
using System.Text;
using Renci.SshNet.Common;

namespace Worker.Ssh;

/// <summary>The host key a server showed during key exchange: its type, its wire-format blob and its fingerprint.</summary>
public sealed record PresentedHostKey(string KeyType, byte[] Blob)
{
    /// <summary>As <c>ssh-keygen -l</c> prints it: <c>SHA256:</c> and unpadded base64.</summary>
    public string Fingerprint { get; } = "SHA256:" + Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(Blob)).TrimEnd('=');

    internal static PresentedHostKey From(HostKeyEventArgs e) => new(KeyTypeOf(e.HostKey) ?? e.HostKeyName, e.HostKey);

    /// <summary>The key type named at the start of an SSH public key blob (RFC 4253 §6.6), or null if it has none.</summary>
    internal static string? KeyTypeOf(byte[] blob)
    {
        if (blob.Length < 4)
        {
            return null;
        }
        var length = BinaryPrimitives.ReadUInt32BigEndian(blob);
        return length is > 0 and <= 64 && blob.Length >= 4 + length ? Encoding.ASCII.GetString(blob, 4, (int)length) : null;
    }

    public override string ToString() => $"{KeyType} {Fingerprint}";
}
