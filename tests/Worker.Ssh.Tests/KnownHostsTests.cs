namespace Worker.Ssh.Tests;

/// <summary>Reading OpenSSH known_hosts lists and deciding which host may show which key.</summary>
public sealed class KnownHostsTests
{
    private const string KeyA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFYzgTLwXhgQZifHzbCOnPUCtYd8DnQxXVnjENaYx2uU";
    private const string KeyB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE9PwJhgdY+/tHnNQvrP0d1OWJJVa68J95zb7l4V/o0Q";

    // Written by `ssh-keygen -H` from "[10.0.0.5]:2222 KeyA".
    private const string HashedLine = "|1|JcBHLmx6STsesYAVUNe+5YSIOfE=|58dMOhU85ChouBtS3d4Qd437T3s= " + KeyA;

    private static readonly PresentedHostKey A = Presented(KeyA);
    private static readonly PresentedHostKey B = Presented(KeyB);

    [Theory]
    [InlineData("build-1.example.org", 22, true)]
    [InlineData("BUILD-1.example.org", 22, true)]
    [InlineData("build-1.example.org", 2222, false)]
    [InlineData("build-2.example.org", 22, false)]
    public void A_plain_name_matches_that_host_on_port_22_only(string host, int port, bool accepted)
    {
        var list = KnownHosts.Parse($"build-1.example.org {KeyA}\n", "known_hosts");

        Assert.Equal(accepted, list.Refuse(Endpoint(host, port), A) is null);
    }

    [Fact]
    public void Another_port_is_written_in_brackets()
    {
        var list = KnownHosts.Parse($"[10.0.0.5]:2222 {KeyA}", "known_hosts");

        Assert.Null(list.Refuse(Endpoint("10.0.0.5", 2222), A));
        Assert.NotNull(list.Refuse(Endpoint("10.0.0.5", 22), A));
    }

    [Fact]
    public void A_name_hashed_by_ssh_keygen_matches_its_host_only()
    {
        var list = KnownHosts.Parse(HashedLine, "known_hosts");

        Assert.Null(list.Refuse(Endpoint("10.0.0.5", 2222), A));
        Assert.Contains("lists no key for [10.0.0.6]:2222", list.Refuse(Endpoint("10.0.0.6", 2222), A));
    }

    [Theory]
    [InlineData("mac-*.ci,!mac-7.ci", "mac-3.ci", true)]
    [InlineData("mac-*.ci,!mac-7.ci", "mac-7.ci", false)]
    [InlineData("mac-?.ci", "mac-12.ci", false)]
    [InlineData("10.1.*,build", "10.1.2.3", true)]
    [InlineData("10.1.*,build", "build", true)]
    public void Patterns_match_as_in_OpenSSH(string names, string host, bool accepted)
    {
        var list = KnownHosts.Parse($"{names} {KeyA}", "known_hosts");

        Assert.Equal(accepted, list.Refuse(Endpoint(host, 22), A) is null);
    }

    [Fact]
    public void A_host_that_shows_another_key_than_the_listed_one_is_refused_naming_the_line()
    {
        var list = KnownHosts.Parse($"# fleet\n\nbuild-1 {KeyB}\nbuild-1 {KeyB} second\n", "/etc/worker/known_hosts");

        var refusal = list.Refuse(Endpoint("build-1", 22), A);

        Assert.Equal($"presented host key {A}, which is not the key /etc/worker/known_hosts lists for build-1 (line 3, 4)", refusal);
    }

    [Fact]
    public void Any_listed_key_of_a_host_is_accepted()
    {
        var list = KnownHosts.Parse($"build-1 {KeyB}\nbuild-1,build-2 {KeyA}", "known_hosts");

        Assert.Null(list.Refuse(Endpoint("build-1", 22), A));
        Assert.Null(list.Refuse(Endpoint("build-1", 22), B));
    }

    [Fact]
    public void A_revoked_key_is_refused_even_where_another_line_lists_it()
    {
        var list = KnownHosts.Parse($"build-1 {KeyA}\n@revoked * {KeyA}", "known_hosts");

        Assert.Contains("line 2 marks @revoked", list.Refuse(Endpoint("build-1", 22), A));
    }

    [Fact]
    public void A_cert_authority_line_trusts_no_plain_key()
    {
        var list = KnownHosts.Parse($"@cert-authority * {KeyA}", "known_hosts");

        Assert.NotNull(list.Refuse(Endpoint("build-1", 22), A));
        Assert.Equal(1, list.Count);
    }

    [Theory]
    [InlineData("build-1 ssh-ed25519 not*base64", "line 2: the ssh-ed25519 key is not base64")]
    [InlineData("build-1 ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFYzgTLwXhgQZifHzbCOnPUCtYd8DnQxXVnjENaYx2uU", "line 2: the key is not a ssh-rsa key")]
    [InlineData("build-1 ssh-ed25519", "line 2: expected host names, a key type and a base64 key")]
    [InlineData("@trusted build-1 " + KeyA, "line 2: unknown marker @trusted")]
    [InlineData("|1|abc " + KeyA, "line 2: a hashed host name is |1|salt|hash")]
    public void A_line_that_cant_be_read_stops_loading_naming_it(string line, string message)
    {
        var e = Assert.Throws<FormatException>(() => KnownHosts.Parse($"ok {KeyA}\n{line}\n", "/etc/worker/known_hosts"));

        Assert.StartsWith("/etc/worker/known_hosts " + message, e.Message);
    }

    private static SshEndpoint Endpoint(string host, int port) => new(host, port, "ci");

    private static PresentedHostKey Presented(string line)
    {
        var fields = line.Split(' ');
        return new PresentedHostKey(fields[0], Convert.FromBase64String(fields[1]));
    }
}
