using System.Diagnostics;
using System.Globalization;
using System.Reflection;

namespace Worker.Benchmarks;

/// <summary>
/// The <see cref="OtlpSink"/> in a process of its own, as a collector runs apart from the worker:
/// the worker's side of the measurement pays for exporting, not for receiving.
/// This executable runs it with the argument <c>otlp-sink</c>; <c>count</c> on its stdin answers
/// with the spans received since the last count.
/// </summary>
internal sealed class OtlpSinkProcess : IAsyncDisposable
{
    public const string Argument = "otlp-sink";

    private readonly Process _process;

    private OtlpSinkProcess(Process process, Uri endpoint)
    {
        _process = process;
        Endpoint = endpoint;
    }

    public Uri Endpoint { get; }

    /// <summary>The CPU time the sink has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public static async Task<OtlpSinkProcess> StartAsync()
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardInput = true, RedirectStandardOutput = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }
        start.ArgumentList.Add(Argument);
        // Under dotnet-trace, the sink would otherwise wait for the profiler's port as this process did.
        start.Environment.Remove("DOTNET_DiagnosticPorts");
        var process = Process.Start(start)!;
        var line = await process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("the OTLP sink did not start");
        return new OtlpSinkProcess(process, new Uri(line));
    }

    public async Task<long> TakeSpanCountAsync()
    {
        await _process.StandardInput.WriteLineAsync("count");
        await _process.StandardInput.FlushAsync();
        return long.Parse(await _process.StandardOutput.ReadLineAsync() ?? "0", CultureInfo.InvariantCulture);
    }

    /// <summary>The sink's side: serve until stdin closes.</summary>
    public static async Task<int> ServeAsync()
    {
        await using var sink = await OtlpSink.StartAsync();
        Console.WriteLine(sink.Endpoint);
        while (await Console.In.ReadLineAsync() is { } command)
        {
            if (command == "count")
            {
                Console.WriteLine(sink.TakeSpanCount().ToString(CultureInfo.InvariantCulture));
            }
        }
        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        _process.StandardInput.Close();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
