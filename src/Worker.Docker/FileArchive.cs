using System.Formats.Tar;

namespace Worker.Docker;

/// <summary>
/// One file as the tar archive Docker extracts at the container's root. Only the file's own entry is
/// written: the engine makes missing parent directories (0755), and an entry for an existing one
/// (<c>/tmp</c>) would reset its mode.
/// </summary>
public static class FileArchive
{
    public const string ExtractTo = "/";

    public static async Task<MemoryStream> CreateAsync(string path, Stream content, UnixFileMode mode, CancellationToken ct)
    {
        if (!Path.IsPathRooted(path) || path.EndsWith('/'))
        {
            throw new ArgumentException($"not an absolute file path: {path}", nameof(path));
        }
        // The tar entry needs the length: a file is read as it is, anything else copied first.
        Stream data = content;
        if (!content.CanSeek)
        {
            data = new MemoryStream();
            await content.CopyToAsync(data, ct);
            data.Position = 0;
        }
        var archive = new MemoryStream();
        await using (var tar = new TarWriter(archive, TarEntryFormat.Pax, leaveOpen: true))
        {
            await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, path.TrimStart('/'))
            {
                Mode = mode,
                ModificationTime = DateTimeOffset.UtcNow,
                DataStream = data,
            }, ct);
        }
        archive.Position = 0;
        return archive;
    }
}
