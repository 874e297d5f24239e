using Worker.Cirrus.Api;

namespace Worker.Cirrus.Standby;

/// <summary>What the session asks of the standby: keep the one Cirrus (or the worker file) describes, and say what is ready.</summary>
public interface ICirrusStandby
{
    /// <summary>Keep a standby made to <paramref name="parameters"/> from now on (null: none). Never throws: a failing standby is logged and polling goes on.</summary>
    void Apply(StandbyInstanceParameters? parameters);

    /// <summary>The standbys ready now, for <c>available_standby_instances_information</c>.</summary>
    IReadOnlyList<StandbyInstanceInformation> Available();
}
