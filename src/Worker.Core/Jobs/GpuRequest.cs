namespace Worker.Core.Jobs;

/// <summary>
/// The GPUs a job's payload asks for: travis's <c>vm_config</c> (<c>gpu_count</c>, <c>gpu_type</c>),
/// which travis-scheduler fills from its own configuration for a job with <c>resources.gpu</c>.
/// One of the two may be missing (a count of 0, a null type): a backend that attaches GPUs fills it
/// in with its own default.
/// </summary>
public sealed record GpuRequest(int Count, string? Type);
