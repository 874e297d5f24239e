using System.Runtime.InteropServices;

namespace Worker.Cirrus;

/// <summary>This host's OS and architecture under Go's names (<c>GOOS</c>/<c>GOARCH</c>), which Cirrus uses in labels and agent file names.</summary>
public static class HostPlatform
{
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
