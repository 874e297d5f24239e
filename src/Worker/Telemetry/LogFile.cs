using Serilog;
using Serilog.Formatting;

namespace Worker.Telemetry;

/// <summary>
/// <c>WORKER_LOG_FILE</c>: the worker's log lines in a file as well, in the format of stderr. When
/// the file reaches <c>WORKER_LOG_ROTATE_SIZE</c> the lines go on in a new one (NAME_001.EXT,
/// NAME_002.EXT...: the highest number is the current file), and only the newest
/// <c>WORKER_LOG_MAX_ROTATIONS</c> besides it are kept (cirrus-cli's <c>log.rotate-size</c> and
/// <c>log.max-rotations</c>).
/// </summary>
public static class LogFile
{
    /// <param name="config">The logger being built.</param>
    /// <param name="path">The file.</param>
    /// <param name="options">Rotation.</param>
    /// <param name="json">The JSON formatter when WORKER_LOG_FORMAT=json; null: the text lines.</param>
    public static LoggerConfiguration WriteTo(LoggerConfiguration config, string path, TelemetryOptions options, ITextFormatter? json)
    {
        int? retained = options.MaxRotations == 0 ? null : options.MaxRotations + 1; // Serilog counts the current file too
        return json is not null
            ? config.WriteTo.File(json, path, fileSizeLimitBytes: options.RotateSize, rollOnFileSizeLimit: true, retainedFileCountLimit: retained)
            : config.WriteTo.File(path, outputTemplate: Composition.Logging.TextTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture,
                fileSizeLimitBytes: options.RotateSize, rollOnFileSizeLimit: true, retainedFileCountLimit: retained);
    }
}
