using System.Net.Sockets;
using System.Text;

namespace Worker.Vm.Tests.Fakes;

/// <summary>
/// One call of a stand-in CLI, as the fake sees it: the arguments the program got, a way to print
/// on its stdout and stderr and to end it with an exit code, and a token that fires when the program
/// went away before its answer (it was killed).
/// </summary>
public sealed class FakeCliCall(IReadOnlyList<string> arguments, NetworkStream stream, CancellationToken hungUp)
{
    private readonly SemaphoreSlim _write = new(1, 1);

    public IReadOnlyList<string> Arguments { get; } = arguments;

    public DateTimeOffset At { get; } = DateTimeOffset.UtcNow;

    /// <summary>Fires when the program was killed (its connection closed) before the fake answered.</summary>
    public CancellationToken HungUp { get; } = hungUp;

    public int? ExitCode { get; private set; }

    public string Command => string.Join(' ', Arguments);

    public Task OutAsync(string text) => LinesAsync('1', text);

    public Task ErrAsync(string text) => LinesAsync('2', text);

    public async Task ExitAsync(int code)
    {
        ExitCode = code;
        await SendAsync($"x {code}\n");
    }

    private async Task LinesAsync(char channel, string text)
    {
        foreach (var line in text.TrimEnd('\n').Split('\n'))
        {
            await SendAsync($"{channel} {line}\n");
        }
    }

    private async Task SendAsync(string text)
    {
        await _write.WaitAsync();
        try
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(text));
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The program is gone; nobody reads the answer.
        }
        finally
        {
            _write.Release();
        }
    }

    public override string ToString() => Command;
}
