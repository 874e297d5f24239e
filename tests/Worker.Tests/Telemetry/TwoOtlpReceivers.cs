using Worker.TestSupport;
using Worker.Tests.Otlp;

namespace Worker.Tests.Telemetry;

/// <summary>A test with an OTLP receiver standing in for Honeycomb beside one for an OTLP collector, and a working directory.</summary>
public abstract class TwoOtlpReceivers : IAsyncLifetime, IDisposable
{
    private protected TempDirectory Dir { get; } = new();
    private protected OtlpReceiver Honeycomb { get; private set; } = null!;
    private protected OtlpReceiver Collector { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Honeycomb = await OtlpReceiver.StartAsync();
        Collector = await OtlpReceiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await Honeycomb.DisposeAsync();
        await Collector.DisposeAsync();
    }

    public void Dispose()
    {
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }
}
