using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Worker.Core.Pipeline;
using Worker.Http;

namespace Worker.Commands;

/// <summary>
/// travis-worker's run-time signals, so an operator's scripts keep working: SIGTTIN adds a
/// processor and SIGTTOU takes one away (as <c>PUT /pool</c>), SIGUSR1 logs the pool and what each
/// processor does (as <c>/status</c>), SIGUSR2 pauses (no new jobs, the running ones finish, the
/// process stays up) and a second SIGUSR2 drains and exits.
/// </summary>
public sealed class TravisSignals : IDisposable
{
    // Linux's numbers; .NET names only the signals every Unix numbers alike.
    private const PosixSignal Usr1 = (PosixSignal)10;
    private const PosixSignal Usr2 = (PosixSignal)12;

    private readonly ProcessorPool _pool;
    private readonly string _host;
    private readonly TimeSpan _drainWait;
    private readonly ILogger _logger;
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _pauses;

    public TravisSignals(ProcessorPool pool, string host, TimeSpan drainWait, ILogger logger)
    {
        _pool = pool;
        _host = host;
        _drainWait = drainWait;
        _logger = logger;
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTTIN, On(() => Resize(+1))));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTTOU, On(() => Resize(-1))));
        if (OperatingSystem.IsLinux())
        {
            _registrations.Add(PosixSignalRegistration.Create(Usr1, On(LogStatus)));
            _registrations.Add(PosixSignalRegistration.Create(Usr2, On(Pause)));
        }
    }

    private static Action<PosixSignalContext> On(Action act) => context =>
    {
        context.Cancel = true;
        act();
    };

    // Internal for the test that handles signals on many threads at once, as .NET does.
    internal void Resize(int by)
    {
        if (_pool.ResizeBy(by, PoolResize.MaxSize) is { } size)
        {
            _logger.LogInformation("{Signal}: pool size {Size}", by > 0 ? "SIGTTIN" : "SIGTTOU", size);
        }
    }

    private void LogStatus() =>
        _logger.LogInformation("SIGUSR1: {Status}", JsonSerializer.Serialize(WorkerStatus.Of(_pool, _host)));

    private void Pause()
    {
        if (Interlocked.Increment(ref _pauses) == 1)
        {
            _logger.LogInformation("SIGUSR2: paused (no new jobs; running ones finish); send it again to drain and exit");
            _pool.SetSize(0);
        }
        else if (!_pool.Draining)
        {
            _logger.LogInformation("SIGUSR2 again: draining (up to {Timeout}) and exiting", _drainWait);
            _ = _pool.DrainAsync(_drainWait);
        }
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }
}
