using Microsoft.Extensions.Logging;
using Worker.Cirrus.Api;
using Worker.Cirrus.Jobs;
using Worker.Cirrus.Security;
using Worker.Cirrus.Tasks;
using Worker.Core.Backends;

namespace Worker.Cirrus.Standby;

/// <summary>
/// The <c>standby</c> section and <c>updated_standby_instances</c> on the Tart or Vetu backend's
/// standby (<see cref="IStandbyHost"/>): one VM of the standby's isolation is kept booted, and a task
/// asking for exactly that isolation takes it. What cannot be kept (a backend that is not there, its
/// policy refuses the image) is logged once per change and polling goes on; the backend's own retry
/// pauses cover a VM that fails to boot. The standby's <c>warmup</c> runs in each VM before it is
/// reported (Tart only, as in cirrus-cli), and <c>tart-pre-pull</c> (<paramref name="prePull"/>)
/// before each standby boots.
/// </summary>
public sealed class BackendStandby(BackendCatalog backends, SecurityPolicy security, ILogger logger, TimeProvider? clock = null,
    TartPrePull? prePull = null) : ICirrusStandby
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Lock _lock = new();
    private StandbyInstanceParameters? _current;
    private IStandbyHost? _host;

    public void Apply(StandbyInstanceParameters? parameters)
    {
        lock (_lock)
        {
            if (Equals(parameters, _current))
            {
                return;
            }
            _host?.KeepStandby(null);
            _host = null;
            _current = parameters;
            if (parameters is null)
            {
                return;
            }
            try
            {
                var kind = IsolationKinds.Of(parameters.Isolation);
                if (kind is not (IsolationKind.Tart or IsolationKind.Vetu))
                {
                    throw new InvalidOperationException("only tart and vetu isolations can be kept warm");
                }
                if (backends.For(CirrusJobSpec.BackendOf(kind.Value)) is not IStandbyHost host)
                {
                    throw new InvalidOperationException($"the {kind.Value.KeyName()} backend keeps no standby");
                }
                host.KeepStandby(new StandbyRequest(CirrusJobSpec.StandbyMachine(parameters.Isolation, security))
                {
                    Warmup = WarmupOf(parameters),
                    BeforeEachBoot = prePull is null ? null : prePull.PullIfDueAsync,
                });
                _host = host;
                logger.LogInformation("Keeping a standby {Isolation} VM ({Image})", kind.Value.KeyName(), ImageOf(parameters.Isolation));
            }
            catch (Exception e)
            {
                logger.LogError("The standby can't be kept: {Error}; tasks get fresh VMs", e.Message);
            }
        }
    }

    public IReadOnlyList<StandbyInstanceInformation> Available()
    {
        lock (_lock)
        {
            if (_host is null || _current is null)
            {
                return [];
            }
            var now = _clock.GetUtcNow();
            return _host.ReadyStandbys
                .Select(r => new StandbyInstanceInformation { Parameters = _current, AgeSeconds = (ulong)Math.Max(0, (now - r.ReadyAt).TotalSeconds) })
                .ToList();
        }
    }

    private static StandbyWarmup? WarmupOf(StandbyInstanceParameters parameters) =>
        parameters.Warmup is { } warmup
            // Beyond int seconds (68 years) is no limit at all.
            ? new StandbyWarmup(warmup.Script, warmup.TimeoutSeconds > int.MaxValue ? TimeSpan.Zero : TimeSpan.FromSeconds(warmup.TimeoutSeconds))
            : null;

    private static string ImageOf(Isolation isolation) => isolation.TypeCase == Isolation.TypeOneofCase.Tart ? isolation.Tart.Image : isolation.Vetu.Image;
}
