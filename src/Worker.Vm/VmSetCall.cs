namespace Worker.Vm;

/// <summary>One <c>set</c> call (each setting is its own process, as cirrus-cli runs them).</summary>
/// <param name="Arguments">The flags after <c>set NAME</c>.</param>
/// <param name="AskedByJob">The job asked for this value: if the tool refuses it, the job is at fault, not the host.</param>
public sealed record VmSetCall(IReadOnlyList<string> Arguments, bool AskedByJob);
