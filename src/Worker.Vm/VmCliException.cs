namespace Worker.Vm;

/// <summary>A call of the VM tool exited with a non-zero code; the message names the call and what the tool said.</summary>
public sealed class VmCliException(string tool, VmCliResult result)
    : Exception($"{tool} {result.Command} exited with code {result.ExitCode}: {result.FirstLine}")
{
    public VmCliResult Result { get; } = result;

    public int ExitCode => Result.ExitCode;
}
