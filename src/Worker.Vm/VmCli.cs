using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Telemetry;

namespace Worker.Vm;

/// <summary>
/// One VM tool's command line (<c>tart</c> or <c>vetu</c>), a child process per call as cirrus-cli
/// runs it: stdin closed, stdout and stderr captured, the worker's environment passed on. A
/// cancelled call is killed at once. A binary that can't be started fails every job on this host,
/// so that is a host failure naming the binary and the setting that points at it. Each call is a
/// span (<c>tart clone</c>, <c>vetu ip</c>...) under the job step it serves; a non-zero exit marks
/// it and is counted in <c>worker.backend.errors</c> as <c>exit_CODE</c>.
/// </summary>
public sealed class VmCli(string tool, string path, string pathSetting, ILogger logger)
{
    public ILogger Logger { get; } = logger;

    /// <summary>The tool's name, <c>tart</c> or <c>vetu</c>.</summary>
    public string Tool { get; } = tool;

    /// <summary>The binary: a path, or a name looked up on PATH.</summary>
    public string Path { get; } = path;

    /// <summary>
    /// Runs one call to its end and returns how it ended, whatever its exit code. <paramref name="onOutput"/>
    /// hears of each piece of stdout or stderr as it comes (a pull's progress); it may still hear some
    /// after a cancel, as the killed process's last output is read.
    /// </summary>
    public async Task<VmCliResult> RunAsync(IReadOnlyList<string> arguments, CancellationToken ct,
        IReadOnlyDictionary<string, string>? environment = null, Action? onOutput = null)
    {
        ct.ThrowIfCancellationRequested();
        using var call = BackendCalls.Start(Tool, Subcommand(arguments));
        using var process = Start(arguments, environment, call);
        var stdout = ReadAllAsync(process.StandardOutput, onOutput);
        var stderr = ReadAllAsync(process.StandardError, onOutput);
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            throw;
        }
        var result = new VmCliResult(arguments, process.ExitCode, await stdout, await stderr);
        call?.SetTag(TraceAttributes.ProcessExitCode, result.ExitCode);
        if (result.ExitCode != 0)
        {
            BackendCalls.Failed(call, Tool, ExitKind(result.ExitCode), result.FirstLine);
        }
        Logger.LogDebug("{Tool} {Command}: exit {Code}", Tool, result.Command, result.ExitCode);
        return result;
    }

    /// <summary>Runs one call and returns its stdout; a non-zero exit is a <see cref="VmCliException"/>.</summary>
    public async Task<string> CheckedAsync(IReadOnlyList<string> arguments, CancellationToken ct,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var result = await RunAsync(arguments, ct, environment);
        return result.ExitCode == 0 ? result.Stdout : throw new VmCliException(Tool, result);
    }

    /// <summary>Starts <c>run</c>, which blocks for as long as the VM runs.</summary>
    public VmRunProcess StartRun(IReadOnlyList<string> arguments)
    {
        // The span covers starting it: the process then lives as long as the VM, past the job's steps.
        using var call = BackendCalls.Start(Tool, Subcommand(arguments));
        var process = Start(arguments, null, call);
        call?.SetTag(TraceAttributes.ProcessId, process.Id);
        Logger.LogDebug("{Tool} {Command}: started as process {Pid}", Tool, string.Join(' ', arguments), process.Id);
        return new VmRunProcess(Tool, process);
    }

    /// <summary>The host failure of a binary that can't be started.</summary>
    public BackendFailureException Missing(Exception e)
    {
        // .NET's own message names the working directory, which says nothing here.
        var why = e is Win32Exception { NativeErrorCode: 2 } ? "no such file" : e is Win32Exception { NativeErrorCode: 13 } ? "permission denied" : e.Message;
        return BackendFailureException.Host(
            $"can't run the {Tool} CLI '{Path}': {why} (install {Tool} on this host, or set {pathSetting} to its path)", e);
    }

    internal static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }

    /// <summary>The kind of a failed call's exit: <c>exit_1</c>...</summary>
    public static string ExitKind(int code) => "exit_" + code.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The span's operation: the subcommand only, never a VM name or an image (few distinct values).</summary>
    private static string Subcommand(IReadOnlyList<string> arguments) => arguments.Count > 0 ? arguments[0] : "";

    /// <summary>Reads one of a call's streams to its end, telling <paramref name="onOutput"/> of each piece read.</summary>
    private static async Task<string> ReadAllAsync(StreamReader stream, Action? onOutput)
    {
        if (onOutput is null)
        {
            return await stream.ReadToEndAsync(CancellationToken.None);
        }
        var text = new StringBuilder();
        var buffer = new char[4096];
        int read;
        while ((read = await stream.ReadAsync(buffer, CancellationToken.None)) > 0)
        {
            text.Append(buffer, 0, read);
            onOutput();
        }
        return text.ToString();
    }

    private Process Start(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment, Activity? call)
    {
        var start = new ProcessStartInfo(Path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{Path} did not start");
        }
        catch (Win32Exception e)
        {
            var missing = Missing(e);
            BackendCalls.Failed(call, Tool, "cli_unavailable", missing.Message);
            throw missing;
        }
        // Nothing is ever typed into the tool: a prompt must fail, not wait.
        process.StandardInput.Close();
        return process;
    }
}
