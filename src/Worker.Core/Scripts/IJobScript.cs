namespace Worker.Core.Scripts;

/// <summary>
/// Where a job's script comes from. Made before any machine exists, so a job whose script can't be
/// made gets none; <see cref="ScriptGenerationException"/> errors the job with its message.
/// </summary>
public interface IJobScript
{
    /// <param name="generator">The worker's generator (built-in, or <c>WORKER_BUILD_API_URI</c>), for scripts made from a travis payload.</param>
    Task<JobScript> GenerateAsync(IScriptGenerator generator, CancellationToken ct);
}

/// <summary>The bash script a machine runs, and the files copied into the machine before it runs (e.g. the Cirrus agent).</summary>
public sealed record JobScript(string Text, IReadOnlyList<MachineFile> Files)
{
    public JobScript(string text) : this(text, []) { }

    /// <summary>Makes the text once the machine exists, from its id (a Cirrus agent in a VM is told the VM's name); null: <see cref="Text"/> as it is.</summary>
    public Func<string, string>? ForMachine { get; init; }

    /// <summary>
    /// Picks the files once the machine is up, from the OS its backend says it runs
    /// (<see cref="Backends.IInstance.GuestOs"/>; a Tart VM's agent is macOS's or Linux's, as
    /// <c>tart get</c> tells); null: <see cref="Files"/>. Throws <see cref="ScriptGenerationException"/>
    /// when a file can't be had.
    /// </summary>
    public Func<string?, CancellationToken, Task<IReadOnlyList<MachineFile>>>? FilesFor { get; init; }

    /// <summary>The text for the machine <paramref name="machineId"/>.</summary>
    public string TextFor(string machineId) => ForMachine?.Invoke(machineId) ?? Text;
}

/// <summary>A file of this host copied to <paramref name="Path"/> (absolute) inside the machine, with <paramref name="Mode"/>.</summary>
public sealed record MachineFile(string Path, string SourcePath, UnixFileMode Mode);
