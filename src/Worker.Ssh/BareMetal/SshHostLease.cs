namespace Worker.Ssh.BareMetal;

/// <summary>
/// One job's hold on one host of the pool, given back exactly once (<see cref="Dispose"/>) on every
/// path. While it is held, no other job gets the host.
/// </summary>
internal sealed class SshHostLease : IDisposable
{
    private readonly SshHostPool _pool;
    private readonly PooledHost _host;
    private int _released;

    internal SshHostLease(SshHostPool pool, PooledHost host)
    {
        _pool = pool;
        _host = host;
    }

    public SshEndpoint Endpoint => _host.Endpoint;

    /// <summary>Whether this lease set its host aside (it refused or dropped a connection while held).</summary>
    public bool HostSetAside { get; private set; }

    /// <summary>Job directories an earlier job left on this host; only the lease holder touches them.</summary>
    public List<string> Leftovers => _host.Leftovers;

    public TimeSpan SetAsideFor => _pool.SetAsideFor;

    /// <summary>The host failed: no job gets it for <c>WORKER_SSH_HOST_RETRY</c>.</summary>
    public void SetAside(string reason)
    {
        HostSetAside = true;
        _pool.SetAside(_host, reason);
    }

    /// <summary>The host took a login: if it was set aside, it is back.</summary>
    public void Working() => _pool.Working(_host);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _pool.Release(_host);
        }
    }
}
