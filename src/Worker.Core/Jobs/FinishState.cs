namespace Worker.Core.Jobs;

/// <summary>The four final states travis-hub knows.</summary>
public enum FinishState
{
    Passed,
    Failed,
    Errored,
    Cancelled,
}

public static class FinishStates
{
    /// <summary>The lower-case wire name (<c>passed</c>, <c>failed</c>, <c>errored</c>, <c>cancelled</c>).</summary>
    public static string WireName(this FinishState state) => state switch
    {
        FinishState.Passed => "passed",
        FinishState.Failed => "failed",
        FinishState.Errored => "errored",
        _ => "cancelled",
    };

    public static FinishState? FromWireName(string? name) => name switch
    {
        "passed" => FinishState.Passed,
        "failed" => FinishState.Failed,
        "errored" => FinishState.Errored,
        "cancelled" or "canceled" => FinishState.Cancelled,
        _ => null,
    };
}
