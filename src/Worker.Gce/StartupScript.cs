using System.Globalization;

namespace Worker.Gce;

/// <summary>
/// The VM's <c>startup-script</c> metadata. Auto-implode: the VM powers itself off once the job's
/// hard limit plus a margin has passed, so a VM whose worker died stops costing money and shows
/// up as TERMINATED for the cleanup sidecar even before its deadline label passes.
/// </summary>
public static class StartupScript
{
    public static string For(TimeSpan hardLimit, TimeSpan margin, bool autoImplode)
    {
        if (!autoImplode)
        {
            return "#!/bin/sh\n# auto-implode is off (WORKER_GCE_AUTO_IMPLODE=false)\n";
        }
        var seconds = ((long)Math.Ceiling((hardLimit + margin).TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        // systemd-run outlives the startup-script service; the plain sleep is for images without systemd.
        return $$"""
            #!/bin/sh
            # auto-implode: power off {{seconds}}s after boot (the job's hard limit plus margin)
            if command -v systemd-run >/dev/null 2>&1; then
              systemd-run --unit=worker-auto-implode --on-active={{seconds}}s /bin/systemctl poweroff
            else
              nohup sh -c 'sleep {{seconds}}; poweroff' >/dev/null 2>&1 &
            fi

            """;
    }
}
