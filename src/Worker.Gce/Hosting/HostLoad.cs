namespace Worker.Gce.Hosting;

/// <summary>
/// What one host tells the group's autoscaler: its busy processors plus its share of the jobs waiting
/// in the queue (the ready messages over the group's hosts, so the group's sum counts each waiting job
/// once), over its pool size. 1 is a host that is exactly full; the autoscaler adds hosts while the
/// average is above its target.
/// </summary>
public sealed record HostLoad(int Busy, int PoolSize, long? Ready, int Hosts)
{
    public double Value => (Busy + (double)(Ready ?? 0) / Math.Max(Hosts, 1)) / Math.Max(PoolSize, 1);
}
