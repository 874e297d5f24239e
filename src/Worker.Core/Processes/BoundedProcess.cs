using System.ComponentModel;
using System.Diagnostics;

namespace Worker.Core.Processes;

/// <summary>
/// Runs a program an operator named (a hook, a payload filter) to its end, without a shell, with
/// what it is given on stdin, and stops it, with whatever it started, once it runs past its limit:
/// such a program is the operator's, and one that hangs must not hold a worker.
/// </summary>
public static class BoundedProcess
{
    /// <summary>How a run ended: its exit code and output, or that it could not start or ran past its limit.</summary>
    public sealed record Result(int ExitCode, byte[] Stdout, string Stderr, string? CouldNotStart = null, bool RanPastLimit = false)
    {
        public bool Succeeded => CouldNotStart is null && !RanPastLimit && ExitCode == 0;
    }

    /// <param name="stdin">What it reads; then its stdin is closed (never the worker's own, which may be a terminal).</param>
    /// <param name="ct">Stops the program as its limit does, and then throws.</param>
    public static async Task<Result> RunAsync(string program, IEnumerable<string> arguments, byte[] stdin, TimeSpan limit, CancellationToken ct)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            return new Result(-1, [], "", CouldNotStart: e.Message);
        }
        using (process)
        {
            using var overrun = CancellationTokenSource.CreateLinkedTokenSource(ct);
            overrun.CancelAfter(limit);
            var stdout = ReadAllAsync(process.StandardOutput.BaseStream);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                try
                {
                    await process.StandardInput.BaseStream.WriteAsync(stdin, overrun.Token);
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // It stopped reading (exited early): its exit code and output tell the rest.
                }
                await process.WaitForExitAsync(overrun.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
                ct.ThrowIfCancellationRequested();
                return new Result(-1, [], "", RanPastLimit: true);
            }
            return new Result(process.ExitCode, await stdout, await stderr);
        }
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, CancellationToken.None);
        return buffer.ToArray();
    }
}
