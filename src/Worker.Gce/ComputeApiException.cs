namespace Worker.Gce;

/// <summary>
/// A failed Compute API call: its HTTP status (0 when there was no usable answer) and the error
/// reasons or operation error codes. <see cref="IsTransient"/> and <see cref="IsZoneCapacity"/>
/// are the one place that decides what a Compute error means.
/// </summary>
public sealed class ComputeApiException : Exception
{
    private static readonly string[] CapacityCodes =
    [
        "ZONE_RESOURCE_POOL_EXHAUSTED", "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", "QUOTA_EXCEEDED", "quotaExceeded",
        "RESOURCE_POOL_EXHAUSTED", "STOCKOUT",
    ];

    private static readonly string[] RateLimitReasons = ["rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"];

    public ComputeApiException(int status, IReadOnlyList<string> reasons, string message, Exception? inner = null)
        : base(message, inner)
    {
        Status = status;
        Reasons = reasons;
    }

    public int Status { get; }

    /// <summary>API error reasons (e.g. <c>rateLimitExceeded</c>) or operation error codes (e.g. <c>QUOTA_EXCEEDED</c>).</summary>
    public IReadOnlyList<string> Reasons { get; }

    public bool IsNotFound => Status == 404;

    /// <summary>Worth another try: rate limits, server errors, timeouts, garbled answers.</summary>
    public bool IsTransient =>
        Status is 0 or 429 or >= 500 || (Status == 403 && Reasons.Any(r => RateLimitReasons.Contains(r)));

    /// <summary>The zone can't take the VM now (no capacity, quota): another zone may.</summary>
    public bool IsZoneCapacity => Reasons.Any(r => CapacityCodes.Contains(r));

    /// <summary>
    /// The zone does not offer the accelerator type the VM asks for (each GPU is in some zones only):
    /// a 400 on <c>resource.guestAccelerators[0].acceleratorType</c> or a 404 on its
    /// <c>acceleratorTypes/</c> resource, from the insert or its operation (409 here). Another zone may offer it.
    /// </summary>
    public bool IsAcceleratorTypeNotOffered => Status is 400 or 404 or 409 && Message.Contains("acceleratorType", StringComparison.Ordinal);

    /// <summary>
    /// This worker can't use the API at all, whatever the job: its credentials are refused (401),
    /// its service account lacks a permission in the project (403 that is not a rate limit or quota),
    /// or the API can't be reached.
    /// </summary>
    public bool IsHostLevel =>
        Status == 401 || (Status == 403 && !IsTransient && !IsZoneCapacity) || (Status == 0 && Reasons.Contains(ConnectionReason));

    /// <summary>The reason of a call that got no answer because the connection failed.</summary>
    public const string ConnectionReason = "connection";
}
