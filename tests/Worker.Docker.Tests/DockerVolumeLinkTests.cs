using Worker.Core.Backends;
using Worker.Core.Jobs;
using Worker.Core.Security;

namespace Worker.Docker.Tests;

/// <summary>Volume sources are judged where their links really lead, on this host's real filesystem.</summary>
public sealed class DockerVolumeLinkTests : IDisposable
{
    private readonly string _cache = Directory.CreateTempSubdirectory("worker-dlink-").FullName;

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    private DockerOptions Operator => new()
    {
        EndpointUri = new Uri(DockerOptions.LocalSocket),
        VolumeRules = [_cache + "/*"],
    };

    private static StartAttributes Job(string volume) => new() { JobId = 1, Volumes = [volume] };

    private string Link(string name, string target)
    {
        var path = Path.Combine(_cache, name);
        File.CreateSymbolicLink(path, target);
        return path;
    }

    private string Refusal(string volume) =>
        Assert.Throws<JobRefusedException>(() => new DockerPolicy(Operator).Decide(Job(volume))).Rule;

    [Fact]
    public void A_link_in_an_allowed_directory_to_the_engine_socket_is_refused_as_the_socket()
    {
        var link = Link("engine", "/var/run/docker.sock");

        Assert.Contains($"volume '{link}' (really '{HostPath.Real("/var/run/docker.sock")}') is a container engine socket", Refusal(link + ":/x"));
    }

    [Fact]
    public void A_link_in_an_allowed_directory_to_the_directory_holding_the_socket_is_refused()
    {
        var link = Link("run", "/var/run");

        Assert.Contains("is a container engine socket", Refusal(link + ":/host-run"));
        Assert.Contains("is a container engine socket", Refusal(Link("root", "/") + ":/host"));
    }

    [Fact]
    public void A_relative_link_climbing_out_of_an_allowed_directory_is_judged_where_it_lands()
    {
        var depth = _cache.Split('/', StringSplitOptions.RemoveEmptyEntries).Length;
        var link = Link("etc", string.Concat(Enumerable.Repeat("../", depth)) + "etc");

        Assert.Contains($"volume '{link}' (really '/etc') is not allowed by WORKER_ALLOWED_VOLUMES", Refusal(link + ":/x"));
    }

    [Fact]
    public void A_link_that_stays_in_an_allowed_directory_is_mounted_at_its_real_path()
    {
        Directory.CreateDirectory(Path.Combine(_cache, "npm-store"));
        var link = Link("npm", "npm-store");

        var volume = Assert.Single(new DockerPolicy(Operator).Decide(Job(link + "/sub:/root/.npm")).Volumes);

        Assert.Equal(Path.Combine(_cache, "npm-store", "sub") + ":/root/.npm:rw", volume.ToBind());
    }

    [Fact]
    public void A_link_loop_is_refused()
    {
        Link("a", Path.Combine(_cache, "b"));
        Link("b", Path.Combine(_cache, "a"));

        Assert.Contains("can't be resolved on this host", Refusal(Path.Combine(_cache, "a") + ":/x"));
    }

    [Fact]
    public void A_rule_naming_the_socket_exactly_still_allows_it_through_the_var_run_link()
    {
        var exact = Operator with { VolumeRules = [_cache + "/*", "/var/run/docker.sock"] };

        var volume = Assert.Single(new DockerPolicy(exact).Decide(Job("/var/run/docker.sock:/var/run/docker.sock")).Volumes);

        Assert.Equal(HostPath.Real("/var/run/docker.sock"), volume.Source);
    }
}
