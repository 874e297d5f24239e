using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Ssh;

namespace Worker.Vm;

/// <summary>
/// A standby's warm-up, as cirrus-cli's Tart standby does it: once the VM is booted and SSH lets the
/// worker in, <c>script + "\nexit\n"</c> is written into its login shell. The output goes to the
/// worker log at debug, and its last lines at warning when the warm-up fails. A warm-up that
/// outlasts its timeout is stopped and the VM offered anyway, with a warning (cirrus-cli's rule);
/// a non-zero exit, a broken session or a VM that stops fails the boot (<see cref="VmBootException"/>),
/// and the caller deletes the VM.
/// </summary>
public sealed class VmWarmup(StandbyWarmup warmup, ILogger logger)
{
    private const int TailLines = 20;

    public StandbyWarmup Warmup => warmup;

    public async Task RunAsync(VmMachine machine, CancellationToken ct)
    {
        var run = machine.Run ?? throw new InvalidOperationException($"VM {machine.Name} never ran");
        var tail = new Queue<string>();
        void Line(string text)
        {
            logger.LogDebug("Warm-up of VM {Vm}: {Line}", machine.Name, text);
            lock (tail)
            {
                tail.Enqueue(text);
                if (tail.Count > TailLines)
                {
                    tail.Dequeue();
                }
            }
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct, run.ExitedToken);
        // CancelAfter takes up to 49 days; a longer limit is none.
        if (warmup.Timeout > TimeSpan.Zero && warmup.Timeout.TotalMilliseconds < uint.MaxValue - 1)
        {
            limit.CancelAfter(warmup.Timeout);
        }
        logger.LogInformation("Running the warm-up script in standby VM {Vm}", machine.Name);
        var clock = Stopwatch.StartNew();
        SshRunResult result;
        try
        {
            result = await machine.Ssh.RunInLoginShellAsync(warmup.Script + "\nexit\n", Line, limit.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && !run.HasExited)
        {
            logger.LogWarning("The warm-up script of standby VM {Vm} ran past its timeout ({Timeout}) and was stopped; the standby is offered anyway",
                machine.Name, Durations.Format(warmup.Timeout));
            return;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw Failed(machine, $"the VM stopped ({run.Describe()})", tail);
        }
        if (result.ExitCode == 0)
        {
            logger.LogInformation("The warm-up script of standby VM {Vm} finished after {Seconds:0.0}s", machine.Name, clock.Elapsed.TotalSeconds);
            return;
        }
        throw Failed(machine, result.ExitCode is { } code ? $"its shell exited with {code}" : result.LostReason!, tail);
    }

    private VmBootException Failed(VmMachine machine, string why, Queue<string> tail)
    {
        string last;
        lock (tail)
        {
            last = tail.Count == 0 ? "(no output)" : string.Join('\n', tail);
        }
        logger.LogWarning("The warm-up script of standby VM {Vm} failed ({Why}); its last lines:\n{Output}", machine.Name, why, last);
        return new VmBootException($"the warm-up script of VM {machine.Name} failed: {why}");
    }
}
