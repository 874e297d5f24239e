using Renci.SshNet;

namespace Worker.Ssh;

/// <summary>How to prove who we are: a private key, or a password.</summary>
public abstract class SshCredential
{
    private SshCredential()
    {
    }

    /// <summary>"key" or "password", for messages.</summary>
    public abstract string Kind { get; }

    /// <summary>The private half of a key pair this process made.</summary>
    public static SshCredential FromKey(SshKeyPair key) => new KeyCredential(key.OpenPrivateKey());

    /// <summary>A private key file in OpenSSH, PKCS#1/#8 or PuTTY format, read now so that a bad file fails at start-up.</summary>
    public static SshCredential FromKeyFile(string path, string? passphrase = null)
    {
        try
        {
            return new KeyCredential(passphrase is null ? new PrivateKeyFile(path) : new PrivateKeyFile(path, passphrase));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Renci.SshNet.Common.SshException or ArgumentException)
        {
            throw new ArgumentException($"{path} is not a private key this worker can use: {e.Message}", nameof(path), e);
        }
    }

    /// <summary>
    /// A password, offered as "password" and as "keyboard-interactive" (every prompt answered with
    /// it), since hosts whose sshd asks PAM (macOS among them) only take the second.
    /// </summary>
    public static SshCredential FromPassword(string password) => new PasswordCredential(password);

    /// <summary>Fresh methods for one connection attempt; the caller disposes them.</summary>
    internal abstract AuthenticationMethod[] Methods(string user);

    private sealed class KeyCredential(PrivateKeyFile key) : SshCredential
    {
        public override string Kind => "key";

        internal override AuthenticationMethod[] Methods(string user) => [new PrivateKeyAuthenticationMethod(user, key)];
    }

    private sealed class PasswordCredential(string password) : SshCredential
    {
        public override string Kind => "password";

        internal override AuthenticationMethod[] Methods(string user)
        {
            var interactive = new KeyboardInteractiveAuthenticationMethod(user);
            interactive.AuthenticationPrompt += (_, e) =>
            {
                foreach (var prompt in e.Prompts)
                {
                    prompt.Response = password;
                }
            };
            return [new PasswordAuthenticationMethod(user, password), interactive];
        }
    }
}
