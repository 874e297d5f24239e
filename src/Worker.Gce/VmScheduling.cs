using System.Text.Json.Nodes;

namespace Worker.Gce;

/// <summary>
/// A job VM's <c>scheduling</c>: standard, preemptible (<c>WORKER_GCE_PREEMPTIBLE</c>) or Spot
/// (<c>WORKER_GCE_SPOT</c>, which Google made the successor of preemptible VMs, without their
/// 24-hour limit). Compute Engine may take back a preemptible or Spot VM at any time and neither
/// restarts nor live-migrates it, so it refuses an insert that asks for either, as it does for
/// GPUs. A job VM is never restarted: a job does not survive its VM going away.
/// </summary>
internal static class VmScheduling
{
    public static JsonObject For(GceOptions options, VmShape shape)
    {
        var scheduling = options.IsSpot
            ? new JsonObject
            {
                ["provisioningModel"] = "SPOT",
                // Stopped, not deleted: a preempted Spot VM stays, as a preempted preemptible one
                // does, until the job's teardown deletes it, and its preemption is looked for alike.
                ["instanceTerminationAction"] = "STOP",
            }
            : new JsonObject { ["preemptible"] = options.IsPreemptible };
        scheduling["automaticRestart"] = false;
        scheduling["onHostMaintenance"] = options.IsSpot || options.IsPreemptible || shape.HasGpus ? "TERMINATE" : "MIGRATE";
        return scheduling;
    }
}
