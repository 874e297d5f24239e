using Worker.Core.Backends;

namespace Worker.Gce;

/// <summary>
/// What a failed Compute API call means for this host. Credentials the API refuses, a service
/// account without the permissions it needs, or an API this host can't reach fail every job
/// here: a host failure that says which, and where the credentials come from.
/// </summary>
public static class GceFailures
{
    /// <summary>The host failure <paramref name="e"/> stands for, or null when it is not one.</summary>
    public static BackendFailureException? HostLevel(Exception e, string project, GceOptions options) => e switch
    {
        ComputeApiException { IsHostLevel: true, Status: 401 } api => BackendFailureException.Host(
            $"the Compute API does not accept this worker's credentials ({api.Message}); check {Credentials(options)}", e),
        ComputeApiException { IsHostLevel: true, Status: 403 } api => BackendFailureException.Host(
            $"the Compute API refuses this worker's requests in project {project} ({api.Message}); check the roles of {Credentials(options)}", e),
        ComputeApiException { IsHostLevel: true } api => BackendFailureException.Host(
            $"can't reach the Compute API at {options.Endpoint} ({api.Message}); check this host's network (or WORKER_GCE_API_ENDPOINT)", e),
        _ => null,
    };

    private static string Credentials(GceOptions options) => options.Token is not null
        ? "WORKER_GCE_ACCESS_TOKEN"
        : options.Account is not null
            ? "the service account in WORKER_GCE_ACCOUNT_JSON"
            : "the service account of Application Default Credentials (on GCE, the VM's own)";
}
