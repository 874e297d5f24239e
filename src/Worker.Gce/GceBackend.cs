using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Images;
using Worker.Core.Jobs;
using Worker.Ssh;

namespace Worker.Gce;

/// <summary>
/// A fresh Compute Engine VM per job: resolve the image, insert the instance (with the job's key in
/// <c>ssh-keys</c>, the auto-implode startup script and the fleet's labels), wait for its zone
/// operation, read its IP and wait for SSH, pinning the host key. When the zone has no capacity
/// or quota, or does not offer the job's GPU, the other zones of the region are tried, then the job
/// is requeued (refused when no zone offers the GPU); a job whose <c>vm_config.zone</c> names a zone
/// of the region gets that zone alone. Whatever fails after the insert deletes the
/// VM at once, on its own token, and follows it until it is confirmed gone (<see cref="FailedStartDeletions"/>).
/// </summary>
public sealed class GceBackend : IBackend
{
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(60);
    private readonly ComputeClient _compute;
    private readonly GceOptions _options;
    private readonly ILogger _logger;
    private readonly GceHostMachine? _host;
    private readonly ImageResolver _images;
    private readonly IImageSelector _imageSelector;
    private readonly GceZones _zones;

    /// <param name="host">The GCE instance this worker runs on, or null when it runs elsewhere.</param>
    public GceBackend(ComputeClient compute, GceOptions options, GceHostMachine? host, ILogger<GceBackend> logger)
    {
        _compute = compute;
        _options = options;
        _host = host;
        _logger = logger;
        _images = new ImageResolver(compute, options.ImageProject ?? compute.Project, options.DefaultImagePattern);
        _imageSelector = options.ImageSelector.Create(options.ImageMappings, logger);
        Deletions = new FailedStartDeletions(compute, options, logger);
        _zones = new GceZones(compute, options, logger);
    }

    /// <summary>The VMs of failed starts, deleted and followed until they are confirmed gone.</summary>
    public FailedStartDeletions Deletions { get; }

    public string Name => "gce";

    public ComputeClient Compute => _compute;

    public string ProbeDescription => $"a Compute API get of zone {_options.PrimaryZone} in project {_compute.Project}";

    /// <summary>A get of the zone the worker uses: it needs the credentials, the project and the API to answer.</summary>
    public async Task ProbeAsync(CancellationToken ct)
    {
        try
        {
            await _compute.GetAsync<ComputeZone>($"projects/{_compute.Project}/zones/{_options.PrimaryZone}", ct);
        }
        catch (ComputeApiException e)
        {
            throw GceFailures.HostLevel(e, _compute.Project, _options)
                ?? BackendFailureException.Host($"the Compute API does not answer {ProbeDescription}: {e.Message}", e);
        }
    }

    /// <summary>Job VMs are the pipeline's to delete; what is left here is following the deletes of failed starts (for a while), and the API client.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Deletions.Count > 0)
        {
            _logger.LogInformation("Following the deletes of {Count} VM(s) whose start failed, for up to {Wait}", Deletions.Count, CloseWait);
        }
        await Deletions.CloseAsync(CloseWait);
        _compute.Dispose();
    }

    public async Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct)
    {
        try
        {
            return await StartInstanceAsync(attributes, progress, ct);
        }
        catch (Exception e) when (GceFailures.HostLevel(e, _compute.Project, _options) is { } hostFailure)
        {
            throw hostFailure;
        }
    }

    private async Task<IInstance> StartInstanceAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct)
    {
        if (attributes.Volumes.Count > 0)
        {
            throw new JobRefusedException("the gce backend does not mount volumes");
        }
        var shape = VmShape.For(attributes, _options);
        var image = await _images.ResolveAsync(string.IsNullOrWhiteSpace(attributes.Image) ? await SelectImageAsync(attributes, ct) : attributes.Image, ct);
        var name = _options.InstanceNameFor(attributes.JobId);
        var key = SshKeyPair.Create();
        var clock = Stopwatch.StartNew();
        var insert = new InsertState();
        try
        {
            var zone = await InsertInSomeZoneAsync(name, attributes, image, shape, key, progress, insert, ct);
            var instance = await WaitUntilRunningAsync(zone, name, ct);
            var ip = AddressOf(instance);
            progress.Report($"Instance {name} is running at {ip} after {clock.Elapsed.TotalSeconds:0}s; waiting for SSH");
            var machine = new SshMachine(new SshEndpoint(ip, _options.Port, _options.User), SshCredential.FromKey(key),
                HostKeyPolicy.PinFirstKey(), _options.SshConnect, _logger);
            await machine.ConnectAsync(ct);
            progress.Report($"SSH is up on {name} after {clock.Elapsed.TotalSeconds:0}s (host key {machine.HostKeyFingerprint})");
            return new GceInstance(_compute, _options, name, zone, instance.SelfLink, image.Name, machine, _logger);
        }
        catch (Exception e) when (insert.Zone is { } zone)
        {
            _logger.LogWarning("Starting {Name} in {Zone} failed after the insert ({Error}); deleting it now", name, zone, e.Message);
            await Deletions.DeleteAsync(zone, name, insert.Answered);
            throw;
        }
    }

    /// <summary>The image the selector chooses for a job that names none (null: WORKER_GCE_IMAGE_DEFAULT), asked as travis-worker asked on GCE.</summary>
    private Task<string?> SelectImageAsync(StartAttributes attributes, CancellationToken ct) =>
        _imageSelector.SelectAsync(ImageQuery.For(attributes, Name) with { GpuVmType = GpuVmType(attributes.VmSize) }, ct);

    /// <summary>travis-worker's gpu_vm_type: the job's vm_size when it names one of its GPU machines.</summary>
    private static string GpuVmType(string? vmSize) => GpuVmSizes.Includes(vmSize) ? vmSize! : "";

    /// <summary>Where the insert of a starting VM went, and whether the API answered it: from then on the VM may exist.</summary>
    private sealed class InsertState
    {
        public string? Zone { get; set; }
        public bool Answered { get; set; }
    }

    /// <summary>
    /// Inserts in the configured zone, then in the region's other zones while the answer is "no
    /// capacity" or "no such GPU here"; in the job's own zone only, when it names one. A GPU that no
    /// zone it may go to offers refuses the job: waiting won't bring it.
    /// </summary>
    private async Task<string> InsertInSomeZoneAsync(string name, StartAttributes attributes, ComputeImage image, VmShape shape,
        SshKeyPair key, IProgress<string> progress, InsertState insert, CancellationToken ct)
    {
        var pinned = attributes.RequestedZone is not null;
        var zones = attributes.RequestedZone is { } requested ? [await _zones.RequestedAsync(requested, ct)] : await _zones.ToTryAsync(ct);
        var refusals = new List<(string Zone, string Why)>();
        var zonesWithoutTheGpu = 0;
        for (var i = 0; i < zones.Count; i++)
        {
            var zone = zones[i];
            progress.Report($"Creating instance {name} ({shape.Description}, image {image.Name}) in zone {zone}{(pinned ? " (the job's vm_config.zone)" : "")}");
            try
            {
                // Once the insert was sent, the VM may exist even if the answer is lost: from here it is deleted on failure.
                insert.Zone = zone;
                insert.Answered = false;
                var body = InstanceBody(name, zone, attributes, image, shape, key);
                ComputeOperation operation;
                try
                {
                    operation = await _compute.MutateAsync(HttpMethod.Post, $"projects/{_compute.Project}/zones/{zone}/instances", body, Guid.NewGuid(), ct);
                    insert.Answered = true;
                }
                catch (ComputeApiException e) when (e.Status is 401 or 403)
                {
                    insert.Zone = null; // refused: nothing was created, so there is nothing to delete
                    throw;
                }
                catch (ComputeApiException e) when (e.Status is >= 400 and < 500)
                {
                    insert.Answered = true; // the API decided; no late VM can come of it
                    throw;
                }
                if (_options.PrePollSleep > TimeSpan.Zero)
                {
                    await Task.Delay(_options.PrePollSleep, ct);
                }
                await _compute.WaitForZoneOperationAsync(zone, operation, _options.PollSleep, ct);
                return zone;
            }
            catch (ComputeApiException e) when (e.IsZoneCapacity || shape.Gpus is not null && e.IsAcceleratorTypeNotOffered)
            {
                var why = e.IsZoneCapacity ? string.Join(", ", e.Reasons) : $"no {shape.Gpus!.Type} there";
                if (!e.IsZoneCapacity)
                {
                    zonesWithoutTheGpu++;
                }
                refusals.Add((zone, why));
                progress.Report(i + 1 < zones.Count
                    ? $"Zone {zone} can't take the instance now ({why}); trying zone {zones[i + 1]}"
                    : pinned
                        ? $"Zone {zone} can't take the instance now ({why}); the job's vm_config.zone allows no other"
                        : $"Zone {zone} can't take the instance now ({why}); no zone left in {_options.RegionName}");
                await Deletions.DeleteAsync(zone, name, insertAnswered: true);
                insert.Zone = null;
            }
        }
        if (zonesWithoutTheGpu == zones.Count)
        {
            throw new JobRefusedException(pinned
                ? $"zone {zones[0]}, which the job's vm_config.zone names, does not offer {shape.Gpus!.Type} GPUs"
                : $"no zone of {_options.RegionName} offers {shape.Gpus!.Type} GPUs (tried {string.Join(", ", zones)})");
        }
        throw new ZonesExhaustedException(pinned
            ? $"zone {zones[0]}, which the job's vm_config.zone names, can't take the instance now: {refusals[0].Why}"
            : $"no zone of {_options.RegionName} could take the instance: {string.Join("; ", refusals.Select(r => $"{r.Zone}: {r.Why}"))}");
    }

    private async Task<ComputeInstance> WaitUntilRunningAsync(string zone, string name, CancellationToken ct)
    {
        while (true)
        {
            var instance = await _compute.GetAsync<ComputeInstance>($"projects/{_compute.Project}/zones/{zone}/instances/{name}", ct);
            switch (instance.Status)
            {
                case "RUNNING":
                    return instance;
                case "STOPPING" or "STOPPED" or "TERMINATED" or "SUSPENDED":
                    throw new InvalidOperationException($"instance {name} is {instance.Status} while booting (preempted?)");
            }
            await Task.Delay(_options.PollSleep, ct);
        }
    }

    private string AddressOf(ComputeInstance instance)
    {
        var nic = instance.NetworkInterfaces is { Count: > 0 } nics ? nics[0] : throw new InvalidOperationException($"instance {instance.Name} has no network interface");
        var ip = _options.ConnectOverPublicIp && _options.WithPublicIp
            ? nic.AccessConfigs?.FirstOrDefault(a => !string.IsNullOrEmpty(a.NatIp))?.NatIp
            : nic.NetworkIp;
        return ip ?? throw new InvalidOperationException($"instance {instance.Name} has no {(_options.ConnectOverPublicIp ? "external" : "internal")} IP");
    }

    private JsonObject InstanceBody(string name, string zone, StartAttributes attributes, ComputeImage image, VmShape shape, SshKeyPair key)
    {
        var project = _compute.Project;
        var imageProject = _options.ImageProject ?? project;
        var labels = new JsonObject();
        foreach (var (k, v) in attributes.Labels)
        {
            labels[k] = v;
        }
        foreach (var (k, v) in _host?.Labels() ?? [])
        {
            labels[k] = v;
        }
        var nic = new JsonObject
        {
            ["network"] = _options.NetworkName.Contains('/') ? _options.NetworkName : $"projects/{project}/global/networks/{_options.NetworkName}",
        };
        if (_options.SubnetworkName is { } subnet)
        {
            nic["subnetwork"] = subnet.Contains('/') ? subnet : $"projects/{project}/regions/{_options.RegionName}/subnetworks/{subnet}";
        }
        if (_options.WithPublicIp)
        {
            nic["accessConfigs"] = new JsonArray(new JsonObject { ["type"] = "ONE_TO_ONE_NAT", ["name"] = "External NAT" });
        }
        var body = new JsonObject
        {
            ["name"] = name,
            ["machineType"] = $"zones/{zone}/machineTypes/{shape.MachineType}",
            ["labels"] = labels,
            ["tags"] = new JsonObject { ["items"] = new JsonArray([.. NetworkTags().Select(t => (JsonNode)t)]) },
            ["disks"] = new JsonArray(new JsonObject
            {
                ["boot"] = true,
                ["autoDelete"] = true,
                ["type"] = "PERSISTENT",
                ["initializeParams"] = new JsonObject
                {
                    ["sourceImage"] = image.SelfLink ?? $"projects/{imageProject}/global/images/{image.Name}",
                    ["diskSizeGb"] = shape.DiskSizeGb.ToString(CultureInfo.InvariantCulture),
                    ["diskType"] = $"zones/{zone}/diskTypes/pd-ssd",
                },
            }),
            ["networkInterfaces"] = new JsonArray(nic),
            ["metadata"] = new JsonObject
            {
                ["items"] = new JsonArray(
                    Item("ssh-keys", key.MetadataLine(_options.User, name)),
                    // Only this job's key opens this VM: project-wide keys are not installed.
                    Item("block-project-ssh-keys", "TRUE"),
                    // ssh-keys is how the key gets in: a project that turns OS Login on would ignore it.
                    Item("enable-oslogin", "FALSE"),
                    Item("startup-script", StartupScript.For(attributes.HardTimeout, _options.ImplodeMargin, _options.Implode))),
            },
            ["scheduling"] = VmScheduling.For(_options, shape),
        };
        if (shape.Gpus is { } gpus)
        {
            body["guestAccelerators"] = gpus.InZone(zone);
        }
        return body;

        static JsonObject Item(string key, string value) => new() { ["key"] = key, ["value"] = value };
    }

    /// <summary>
    /// Ours, then travis-worker's, which routes and firewall rules of its deployments match (a NAT
    /// route for <c>no-ip</c> VMs, rules for <c>testing</c>): <c>testing</c>, <c>no-ip</c> for a VM
    /// without a public address, and the site.
    /// </summary>
    private IEnumerable<string> NetworkTags()
    {
        yield return "worker-job";
        yield return "testing";
        if (!_options.WithPublicIp)
        {
            yield return "no-ip";
        }
        if (_options.SiteTag is { Length: > 0 } site)
        {
            yield return site;
        }
    }
}
