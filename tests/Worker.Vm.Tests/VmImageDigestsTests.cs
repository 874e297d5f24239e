using Worker.Core.Backends;

namespace Worker.Vm.Tests;

/// <summary>Which lines of <c>list</c> are the cached digests of an image's repository, the mark a pull leaves when a tag moved.</summary>
public sealed class VmImageDigestsTests
{
    private static readonly ListedVm[] Listed =
    [
        new("golden-linux", Local: true, MachineState.Stopped),
        new("registry.local:5000/acme/img:2", Local: false, MachineState.Stopped),
        new("registry.local:5000/acme/img@sha256:aaa", Local: false, MachineState.Stopped),
        new("registry.local:5000/acme/img@sha256:bbb", Local: false, MachineState.Stopped),
        new("registry.local:5000/acme/img-other@sha256:ccc", Local: false, MachineState.Stopped),
        new("ghcr.io/acme/ci@sha256:ddd", Local: false, MachineState.Stopped),
    ];

    [Fact]
    public void A_tagged_image_behind_a_registry_port_has_its_own_repositorys_digests()
    {
        Assert.Equal(["registry.local:5000/acme/img@sha256:aaa", "registry.local:5000/acme/img@sha256:bbb"],
            VmImages.DigestsOf("registry.local:5000/acme/img:2", Listed).Order());
    }

    [Fact]
    public void An_image_without_a_tag_is_its_repository()
    {
        Assert.Equal(["ghcr.io/acme/ci@sha256:ddd"], VmImages.DigestsOf("ghcr.io/acme/ci", Listed));
    }

    [Fact]
    public void An_image_named_by_its_digest_cannot_move()
    {
        Assert.Empty(VmImages.DigestsOf("ghcr.io/acme/ci@sha256:ddd", Listed));
    }
}
