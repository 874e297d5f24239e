using System.Text;
using Docker.DotNet;

namespace Worker.Docker.Tests;

/// <summary>Reading an attached or exec stream of the engine in tests.</summary>
internal static class StreamOutput
{
    /// <summary>Reads stdout and stderr until <paramref name="text"/> has come; fails the test if the stream ends first.</summary>
    public static async Task UntilAsync(MultiplexedStream stream, string text, CancellationToken ct)
    {
        var seen = new StringBuilder();
        var buffer = new byte[4096];
        while (!seen.ToString().Contains(text, StringComparison.Ordinal))
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, ct);
            Assert.False(read.EOF, $"'{text.TrimEnd()}' never came: " + seen);
            seen.Append(Encoding.UTF8.GetString(buffer, 0, read.Count));
        }
    }
}
