using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Worker.Cirrus;

/// <summary>
/// This host as cirrus-cli names it: its OS and architecture under Go's names (<c>GOOS</c>/<c>GOARCH</c>),
/// which Cirrus uses in labels and agent file names, and its host name.
/// </summary>
public static class HostPlatform
{
    /// <summary>
    /// The host name whole, as Go's <c>os.Hostname()</c> gives it (<c>mac-mini-07.ci.example.com</c>): the
    /// <c>hostname</c> label and, trimmed of <c>.lan</c>/<c>.local</c>, the default worker name.
    /// <see cref="Environment.MachineName"/> would cut it at the first dot; <see cref="Dns.GetHostName"/>
    /// returns gethostname() unchanged.
    /// </summary>
    public static string HostName
    {
        get
        {
            try
            {
                return Dns.GetHostName();
            }
            catch (SocketException)
            {
                return Environment.MachineName;
            }
        }
    }

    public static string Os { get; } =
        OperatingSystem.IsLinux() ? "linux"
        : OperatingSystem.IsMacOS() ? "darwin"
        : OperatingSystem.IsWindows() ? "windows"
        : OperatingSystem.IsFreeBSD() ? "freebsd"
        : RuntimeInformation.OSDescription.ToLowerInvariant();

    public static string Arch { get; } = GoArch(RuntimeInformation.OSArchitecture);

    public static string GoArch(Architecture architecture) => architecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.X86 => "386",
        Architecture.Arm => "arm",
        Architecture.S390x => "s390x",
        Architecture.Ppc64le => "ppc64le",
        Architecture.RiscV64 => "riscv64",
        Architecture.LoongArch64 => "loong64",
        var other => other.ToString().ToLowerInvariant(),
    };
}
