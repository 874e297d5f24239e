namespace Worker.Core.Backends;

/// <summary>
/// An inventory whose backend keeps files beside its machines that can outlive them when a worker is
/// killed at the wrong moment (Tart's and Vetu's lock files with no record). The cleanup sidecar sweeps
/// them once a pass. They are no machine: no label or policy decides, only whether a live process
/// needs them.
/// </summary>
public interface ILeftoverFiles
{
    /// <summary>Why a file that <see cref="Sweep"/> returns is left over, for the log.</summary>
    string Why { get; }

    /// <summary>Removes the leftover files (with <paramref name="dryRun"/>, only finds them) and returns their paths.</summary>
    IReadOnlyList<string> Sweep(bool dryRun);
}
