using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Worker.TestSupport;

namespace Worker.Vm.Tests.Fakes;

/// <summary>
/// The state and behaviour behind a stand-in <c>tart</c> or <c>vetu</c> program: the program on
/// PATH (<c>vm-cli-shim.sh</c>, one process per call, as the real CLI) sends its arguments here over
/// loopback and prints the answer. Local VMs, cached and pullable OCI images, and the calls made are
/// kept here; each running VM is a real sshd on its own 127.x address (<see cref="FakeVm"/>). What is
/// common to both CLIs (clone, set, run blocking until stopped, ip --wait, list, stop, delete, pull) is
/// here; their exit codes, messages, flags and output formats are <see cref="FakeTart"/>'s and
/// <see cref="FakeVetu"/>'s. Faults: clone fails, ip never answers, the guest's sshd refuses
/// connections, a slow boot, a VM that crashes (its run exits), delete fails, pull fails, pull hangs
/// without a word, pull downloads slowly while it prints its progress.
/// </summary>
public abstract class FakeVmCli : IAsyncDisposable
{
    private static int s_nextAddress = Random.Shared.Next(0, 200 * 250);

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;
    private readonly ConcurrentDictionary<Task, bool> _serving = new();
    private readonly Dictionary<string, FakeVm> _vms = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FakeVmImage> _cached = new(StringComparer.Ordinal);
    /// <summary>What each reference names in the registry: the image and its manifest's digest.</summary>
    private readonly Dictionary<string, (FakeVmImage Image, string Digest)> _registry = new(StringComparer.Ordinal);
    private int _cloneFailures;
    private int _deleteFailures;
    private int _runningPulls;

    protected FakeVmCli(string tool)
    {
        Tool = tool;
        Dir = Directory.CreateTempSubdirectory($"fake-{tool}-").FullName;
        BinDirectory = Path.Combine(Dir, "bin");
        Directory.CreateDirectory(BinDirectory);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        var port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        var shim = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fakes", "vm-cli-shim.sh"))
            .Replace("@PORT@", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        ProgramPath = Path.Combine(BinDirectory, tool);
        File.WriteAllText(ProgramPath, shim);
        File.SetUnixFileMode(ProgramPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        SshPort = TestSshd.FreePort();
        _accepting = AcceptAsync();
    }

    public string Tool { get; }

    /// <summary>The stand-in program (<c>.../bin/tart</c>); its folder goes first on PATH.</summary>
    public string ProgramPath { get; }

    public string BinDirectory { get; }

    /// <summary>The port every VM's sshd listens on (each VM on its own address).</summary>
    public int SshPort { get; }

    public string Dir { get; }

    /// <summary>Every call made, in order.</summary>
    public ConcurrentQueue<FakeCliCall> Calls { get; } = new();

    /// <summary>The VMs clone made that still exist (golden images left out): empty when nothing leaked.</summary>
    public IReadOnlyList<string> ClonedVms
    {
        get
        {
            lock (_vms)
            {
                return [.. _vms.Values.Where(v => !v.Golden).Select(v => v.Name).Order(StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>The VMs that run now.</summary>
    public IReadOnlyList<string> RunningVms
    {
        get
        {
            lock (_vms)
            {
                return [.. _vms.Values.Where(v => v.Running).Select(v => v.Name)];
            }
        }
    }

    /// <summary>The images pulled into the cache.</summary>
    public IReadOnlyList<string> CachedImages
    {
        get
        {
            lock (_vms)
            {
                return [.. _cached.Keys];
            }
        }
    }

    /// <summary>Only clones to names that start with this fail (empty: any).</summary>
    public string CloneFailurePrefix { get; set; } = "";

    /// <summary>Sees each call as it arrives, before the fake answers it.</summary>
    public Action<FakeCliCall>? OnCall { get; set; }

    /// <summary>The next N clones fail as on a host whose disk is full.</summary>
    public int CloneFailures { get => Volatile.Read(ref _cloneFailures); set => Volatile.Write(ref _cloneFailures, value); }

    /// <summary>The next N deletes fail, leaving the VM.</summary>
    public int DeleteFailures { get => Volatile.Read(ref _deleteFailures); set => Volatile.Write(ref _deleteFailures, value); }

    /// <summary><c>ip</c> never finds an address (a guest without networking).</summary>
    public bool IpNeverAnswers { get; set; }

    /// <summary>Guests boot, get an address, but their sshd never starts: connections are refused.</summary>
    public bool SshdRefuses { get; set; }

    /// <summary>How long a VM takes from <c>run</c> until it has an address and its sshd listens.</summary>
    public TimeSpan BootDelay { get; set; }

    /// <summary>Pulls fail as when the registry is unreachable.</summary>
    public bool PullFails { get; set; }

    /// <summary>Pulls reach a registry that takes the connection and never answers: the program prints nothing and runs until it is killed.</summary>
    public bool PullHangs { get; set; }

    /// <summary>How long a pull downloads; meanwhile it prints a progress line every <see cref="PullProgressEvery"/>, as tart does. Zero: at once.</summary>
    public TimeSpan PullTakes { get; set; }

    public static TimeSpan PullProgressEvery { get; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The pull programs that run now: a pull ends when it answered, or when its program was killed.</summary>
    public int RunningPulls => Volatile.Read(ref _runningPulls);

    public FakeVm? Vm(string name)
    {
        lock (_vms)
        {
            return _vms.GetValueOrDefault(name);
        }
    }

    /// <summary>A local VM the test put there, to clone from (a golden image).</summary>
    public void AddLocalImage(string name, FakeVmImage image)
    {
        lock (_vms)
        {
            _vms[name] = new FakeVm(name, image, Path.Combine(Dir, "vms", name), NewMac(), golden: true);
        }
    }

    /// <summary>An OCI image already in the local cache (of the digest the registry has for it, when it has the same image).</summary>
    public void AddCachedImage(string reference, FakeVmImage image)
    {
        lock (_vms)
        {
            var digest = _registry.TryGetValue(reference, out var named) && named.Image == image ? named.Digest : NewDigest();
            Cache(reference, image, digest);
        }
    }

    /// <summary>
    /// An OCI image <c>pull</c> (or a clone of it) can fetch, under a manifest digest of its own.
    /// Called again for the same reference, the tag moves to the new image (a push upstream).
    /// </summary>
    public void AddRegistryImage(string reference, FakeVmImage image)
    {
        lock (_vms)
        {
            _registry[reference] = (image, NewDigest());
        }
    }

    /// <summary>A VM made outside this fake's clone (e.g. left by another tool or a person), not golden.</summary>
    public void AddVm(string name, FakeVmImage image, bool running = false)
    {
        lock (_vms)
        {
            _vms[name] = new FakeVm(name, image, Path.Combine(Dir, "vms", name), NewMac(), golden: false) { Running = running };
        }
    }

    /// <summary>The VM crashes: its guest dies at once and its <c>run</c> exits with code 1.</summary>
    public void Crash(string name)
    {
        var vm = Vm(name) ?? throw new ArgumentException($"no VM {name}", nameof(name));
        StopVm(vm, 1, $"the VM {name} crashed (fake)");
    }

    public IReadOnlyList<FakeCliCall> CallsOf(string subcommand) =>
        [.. Calls.Where(c => c.Arguments.Count > 0 && c.Arguments[0] == subcommand)];

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        List<FakeVm> all;
        lock (_vms)
        {
            all = [.. _vms.Values];
        }
        foreach (var vm in all)
        {
            StopVm(vm, 0, null);
        }
        try
        {
            await _accepting;
            await Task.WhenAll(_serving.Keys).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // Calls in flight end with the listener.
        }
        Directory.Delete(Dir, recursive: true);
    }

    // ---- what each CLI says and how it formats ----

    protected abstract (int Code, string Message) NoSuchVm(string name);

    protected abstract (int Code, string Message) NotRunning(string name);

    protected abstract (int Code, string Message) AlreadyRunning(string name);

    protected abstract string NoIpMessage { get; }

    protected abstract int UsageExitCode { get; }

    /// <summary>Flags of <c>set</c>: those that take a value, and those that don't.</summary>
    protected abstract (string[] Valued, string[] Switches) SetFlags { get; }

    protected abstract (string[] Valued, string[] Switches) RunFlags { get; }

    protected abstract (string[] Valued, string[] Switches) ListFlags { get; }

    /// <summary>Whether a clone keeps its source's MAC (Tart does; Vetu writes a fresh one).</summary>
    protected abstract bool CloneKeepsMac { get; }

    protected abstract Task ListAsync(FakeCliCall call, IReadOnlyDictionary<string, string?> flags, IReadOnlyList<(string Name, bool Local, FakeVmImage Image, FakeVm? Vm)> entries);

    /// <summary>Reports that one VM of a delete could not be deleted; returns the exit code that ends the call, or null to go on with the next name.</summary>
    protected abstract Task<int?> DeleteFailedAsync(FakeCliCall call, string name, int code, string reason);

    /// <summary>Subcommands only one CLI has (Tart's <c>get</c>); null: unknown.</summary>
    protected virtual Task<bool> OtherAsync(FakeCliCall call, string subcommand, IReadOnlyList<string> rest) => Task.FromResult(false);

    // ---- serving calls ----

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stopping.Token);
            }
            catch (Exception) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            var serving = ServeAsync(client);
            _serving[serving] = true;
            _ = serving.ContinueWith(t => _serving.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var arguments = await ReadRequestAsync(stream);
            if (arguments is null)
            {
                return;
            }
            using var hungUp = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            var call = new FakeCliCall(arguments, stream, hungUp.Token);
            Calls.Enqueue(call);
            OnCall?.Invoke(call);
            var watching = WatchHangUpAsync(stream, hungUp);
            try
            {
                await HandleAsync(call);
            }
            catch (Exception e)
            {
                await call.ErrAsync($"fake {Tool} failed: {e.Message}");
                await call.ExitAsync(99);
            }
            await hungUp.CancelAsync();
            await watching;
        }
    }

    /// <summary>The argument count on a line, then each argument ended by a NUL.</summary>
    private static async Task<List<string>?> ReadRequestAsync(NetworkStream stream)
    {
        var bytes = new List<byte>();
        var buffer = new byte[1];
        async Task<string?> ReadUntilAsync(byte end)
        {
            bytes.Clear();
            while (await stream.ReadAsync(buffer) == 1)
            {
                if (buffer[0] == end)
                {
                    return Encoding.UTF8.GetString([.. bytes]);
                }
                bytes.Add(buffer[0]);
            }
            return null;
        }
        if (await ReadUntilAsync((byte)'\n') is not { } countText || !int.TryParse(countText, CultureInfo.InvariantCulture, out var count))
        {
            return null;
        }
        var arguments = new List<string>();
        for (var i = 0; i < count; i++)
        {
            if (await ReadUntilAsync(0) is not { } argument)
            {
                return null;
            }
            arguments.Add(argument);
        }
        return arguments;
    }

    /// <summary>The program sends nothing more; the connection ending means it was killed.</summary>
    private static async Task WatchHangUpAsync(NetworkStream stream, CancellationTokenSource hungUp)
    {
        var buffer = new byte[16];
        try
        {
            while (await stream.ReadAsync(buffer, hungUp.Token) > 0)
            {
            }
        }
        catch (Exception)
        {
            // Cancelled after the answer, or a reset: either way the call is over.
        }
        await hungUp.CancelAsync();
    }

    private async Task HandleAsync(FakeCliCall call)
    {
        if (call.Arguments.Count == 0)
        {
            await UsageAsync(call, "missing subcommand");
            return;
        }
        var rest = call.Arguments.Skip(1).ToList();
        switch (call.Arguments[0])
        {
            case "clone":
                await CloneAsync(call, rest);
                break;
            case "set":
                await SetAsync(call, rest);
                break;
            case "run":
                await RunAsync(call, rest);
                break;
            case "ip":
                await IpAsync(call, rest);
                break;
            case "list":
                await ListCommandAsync(call, rest);
                break;
            case "stop":
                await StopAsync(call, rest);
                break;
            case "delete":
                await DeleteAsync(call, rest);
                break;
            case "pull":
                await PullAsync(call, rest);
                break;
            default:
                if (!await OtherAsync(call, call.Arguments[0], rest))
                {
                    await UsageAsync(call, $"unknown command \"{call.Arguments[0]}\" for \"{Tool}\"");
                }
                break;
        }
    }

    private async Task CloneAsync(FakeCliCall call, List<string> rest)
    {
        if (!TryParse(rest, ([], []), out _, out var names, out var error) || names.Count != 2)
        {
            await UsageAsync(call, error ?? "clone takes SOURCE NEW_NAME");
            return;
        }
        var (source, target) = (names[0], names[1]);
        if (target.StartsWith(CloneFailurePrefix, StringComparison.Ordinal) && TakeFault(ref _cloneFailures))
        {
            await FailAsync(call, 1, "not enough free disk space to clone the VM (fake)");
            return;
        }
        FakeVmImage image;
        string mac;
        lock (_vms)
        {
            if (_vms.ContainsKey(target))
            {
                image = null!;
                mac = "";
            }
            else if (_vms.TryGetValue(source, out var local))
            {
                (image, mac) = (local.Image, local.Mac);
            }
            else if (_cached.TryGetValue(source, out var cached))
            {
                (image, mac) = (cached, NewMac());
            }
            else if (_registry.TryGetValue(source, out var remote))
            {
                // A clone of an OCI image pulls it first when it is not cached.
                Cache(source, remote.Image, remote.Digest);
                (image, mac) = (remote.Image, NewMac());
            }
            else
            {
                image = null!;
                mac = "";
            }
        }
        if (mac.Length == 0)
        {
            var (code, message) = Vm(target) is not null ? (1, $"VM \"{target}\" already exists") : NoSuchVm(source);
            await FailAsync(call, code, message);
            return;
        }
        var vm = new FakeVm(target, image, Path.Combine(Dir, "vms", target), CloneKeepsMac ? mac : NewMac(), golden: false);
        Directory.CreateDirectory(vm.Dir);
        lock (_vms)
        {
            _vms[target] = vm;
        }
        await call.ExitAsync(0);
    }

    private async Task SetAsync(FakeCliCall call, List<string> rest)
    {
        if (!TryParse(rest, SetFlags, out var flags, out var names, out var error) || names.Count != 1)
        {
            await UsageAsync(call, error ?? "set takes one VM name and its flags");
            return;
        }
        if (await FindAsync(call, names[0]) is not { } vm)
        {
            return;
        }
        if (flags.TryGetValue("--disk-size", out var disk) && int.Parse(disk!, CultureInfo.InvariantCulture) < vm.DiskGb)
        {
            await FailAsync(call, 1, $"the disk can only grow: it has {vm.DiskGb} GB");
            return;
        }
        foreach (var (flag, value) in flags)
        {
            switch (flag)
            {
                case "--cpu":
                    vm.Cpu = int.Parse(value!, CultureInfo.InvariantCulture);
                    break;
                case "--memory":
                    vm.MemoryMib = long.Parse(value!, CultureInfo.InvariantCulture);
                    break;
                case "--disk-size":
                    vm.DiskGb = int.Parse(value!, CultureInfo.InvariantCulture);
                    break;
                case "--display":
                    vm.Display = value!;
                    break;
                case "--random-mac":
                    vm.Mac = NewMac();
                    break;
            }
        }
        await call.ExitAsync(0);
    }

    private async Task RunAsync(FakeCliCall call, List<string> rest)
    {
        if (!TryParse(rest, RunFlags, out _, out var names, out var error) || names.Count != 1)
        {
            await UsageAsync(call, error ?? "run takes one VM name and its flags");
            return;
        }
        if (await FindAsync(call, names[0]) is not { } vm)
        {
            return;
        }
        TaskCompletionSource<(int, string?)> ended;
        lock (vm)
        {
            if (vm.Running)
            {
                ended = null!;
            }
            else
            {
                vm.Running = true;
                vm.RunFlags = rest;
                vm.RunEnded = ended = new TaskCompletionSource<(int, string?)>(TaskCreationOptions.RunContinuationsAsynchronously);
                vm.Boot = new CancellationTokenSource();
            }
        }
        if (ended is null)
        {
            var (code, message) = AlreadyRunning(vm.Name);
            await FailAsync(call, code, message);
            return;
        }
        _ = BootAsync(vm, vm.Boot!.Token);
        try
        {
            await ended.Task.WaitAsync(call.HungUp);
        }
        catch (OperationCanceledException)
        {
            // The program was killed: the VM goes with it.
            StopVm(vm, 137, null);
            return;
        }
        var (exit, said) = ended.Task.Result;
        if (said is not null)
        {
            await call.ErrAsync(said);
        }
        await call.ExitAsync(exit);
    }

    private async Task BootAsync(FakeVm vm, CancellationToken ct)
    {
        try
        {
            await Task.Delay(BootDelay, ct);
            var ip = NewAddress();
            TestSshd? sshd = null;
            if (!SshdRefuses)
            {
                sshd = await TestSshd.StartAsync(new TestSshdOptions(vm.Dir, SshPort)
                {
                    Ip = ip,
                    User = vm.Image.User,
                    PasswordAuthentication = true,
                    OnlyThisUser = true,
                });
            }
            lock (vm)
            {
                if (ct.IsCancellationRequested)
                {
                    sshd?.Dispose();
                    return;
                }
                vm.Sshd = sshd;
                vm.Ip = ip;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The VM stops: its guest dies and its run call ends with <paramref name="code"/>.</summary>
    private static void StopVm(FakeVm vm, int code, string? error)
    {
        TestSshd? sshd;
        TaskCompletionSource<(int, string?)>? ended;
        lock (vm)
        {
            if (!vm.Running)
            {
                return;
            }
            vm.Running = false;
            vm.Boot?.Cancel();
            (sshd, vm.Sshd, vm.Ip) = (vm.Sshd, null, null);
            ended = vm.RunEnded;
        }
        sshd?.Dispose();
        ended?.TrySetResult((code, error));
    }

    private async Task IpAsync(FakeCliCall call, List<string> rest)
    {
        if (!TryParse(rest, (["--wait", "--resolver"], []), out var flags, out var names, out var error) || names.Count != 1)
        {
            await UsageAsync(call, error ?? "ip takes one VM name");
            return;
        }
        if (await FindAsync(call, names[0]) is not { } vm)
        {
            return;
        }
        var wait = TimeSpan.FromSeconds(flags.TryGetValue("--wait", out var seconds) ? int.Parse(seconds!, CultureInfo.InvariantCulture) : 0);
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            if (!IpNeverAnswers && vm.Ip is { } ip)
            {
                await call.OutAsync(ip);
                await call.ExitAsync(0);
                return;
            }
            if (DateTime.UtcNow >= deadline || call.HungUp.IsCancellationRequested)
            {
                await FailAsync(call, 1, NoIpMessage);
                return;
            }
            try
            {
                await Task.Delay(100, call.HungUp);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private async Task ListCommandAsync(FakeCliCall call, List<string> rest)
    {
        if (!TryParse(rest, ListFlags, out var flags, out var names, out var error) || names.Count != 0)
        {
            await UsageAsync(call, error ?? "list takes no arguments");
            return;
        }
        List<(string, bool, FakeVmImage, FakeVm?)> entries;
        lock (_vms)
        {
            entries =
            [
                .. _vms.Values.OrderBy(v => v.Name, StringComparer.Ordinal).Select(v => (v.Name, true, v.Image, (FakeVm?)v)),
                .. _cached.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => (c.Key, false, c.Value, (FakeVm?)null)),
            ];
        }
        var source = flags.GetValueOrDefault("--source");
        entries = [.. entries.Where(e => source is null || (source == "local") == e.Item2)];
        await ListAsync(call, flags, entries);
    }

    private async Task StopAsync(FakeCliCall call, List<string> rest)
    {
        if (!TryParse(rest, (["--timeout", "-t"], []), out _, out var names, out var error) || names.Count != 1)
        {
            await UsageAsync(call, error ?? "stop takes one VM name");
            return;
        }
        if (await FindAsync(call, names[0]) is not { } vm)
        {
            return;
        }
        if (!vm.Running)
        {
            var (code, message) = NotRunning(vm.Name);
            await FailAsync(call, code, message);
            return;
        }
        StopVm(vm, 0, null);
        await call.ExitAsync(0);
    }

    private async Task DeleteAsync(FakeCliCall call, List<string> rest)
    {
        if (!TryParse(rest, ([], []), out _, out var names, out var error) || names.Count == 0)
        {
            await UsageAsync(call, error ?? "delete takes at least one VM name");
            return;
        }
        foreach (var name in names)
        {
            var vm = Vm(name);
            var (code, failure) = vm switch
            {
                null => NoSuchVm(name),
                { Running: true } => (1, $"VM \"{name}\" is running"),
                _ when TakeFault(ref _deleteFailures) => (1, "could not remove the VM's directory (fake)"),
                _ => (0, null!),
            };
            if (failure is not null)
            {
                if (await DeleteFailedAsync(call, name, code, failure) is { } exit)
                {
                    await call.ExitAsync(exit);
                    return;
                }
                continue;
            }
            lock (_vms)
            {
                _vms.Remove(name);
            }
            try
            {
                Directory.Delete(vm!.Dir, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
        await call.ExitAsync(0);
    }

    private async Task PullAsync(FakeCliCall call, List<string> rest)
    {
        if (!TryParse(rest, (["--concurrency"], ["--insecure"]), out _, out var names, out var error) || names.Count != 1)
        {
            await UsageAsync(call, error ?? "pull takes one image");
            return;
        }
        (FakeVmImage Image, string Digest)? remote;
        lock (_vms)
        {
            remote = _registry.TryGetValue(names[0], out var named) ? named : null;
        }
        if (PullFails)
        {
            await FailAsync(call, 1, $"failed to pull {names[0]}: connection refused (fake registry down)");
            return;
        }
        if (remote is not { } found)
        {
            await FailAsync(call, 1, $"failed to pull {names[0]}: manifest unknown (404)");
            return;
        }
        Interlocked.Increment(ref _runningPulls);
        try
        {
            if (!await DownloadAsync(call))
            {
                return;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _runningPulls);
        }
        lock (_vms)
        {
            Cache(names[0], found.Image, found.Digest);
        }
        await call.ExitAsync(0);
    }

    /// <summary>A pull's download as <see cref="PullHangs"/> and <see cref="PullTakes"/> say; false when its program was killed first.</summary>
    private async Task<bool> DownloadAsync(FakeCliCall call)
    {
        try
        {
            if (PullHangs)
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, call.HungUp);
            }
            await call.OutAsync("pulling manifest...");
            var steps = (int)(PullTakes / PullProgressEvery);
            for (var step = 1; step <= steps; step++)
            {
                await Task.Delay(PullProgressEvery, call.HungUp);
                await call.OutAsync($"{step * 100 / steps}%");
            }
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    // ---- helpers ----

    /// <summary>
    /// Caches an image under its reference and, for a tag, under its digest name too
    /// (<c>repository@sha256:…</c>), as both CLIs keep a tag as a link to its digest and list both.
    /// </summary>
    private void Cache(string reference, FakeVmImage image, string digest)
    {
        _cached[reference] = image;
        if (!reference.Contains('@', StringComparison.Ordinal))
        {
            _cached[Worker.Core.Images.ImageReference.Split(reference).Repository + "@" + digest] = image;
        }
    }

    private static string NewDigest() => "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Guid.NewGuid().ToByteArray()));

    /// <summary>The VM called <paramref name="name"/>, or null after failing the call as the CLI does for a VM that does not exist.</summary>
    private async Task<FakeVm?> FindAsync(FakeCliCall call, string name)
    {
        if (Vm(name) is { } vm)
        {
            return vm;
        }
        var (code, message) = NoSuchVm(name);
        await FailAsync(call, code, message);
        return null;
    }

    protected static async Task FailAsync(FakeCliCall call, int code, string message)
    {
        await call.ErrAsync(message);
        await call.ExitAsync(code);
    }

    private Task UsageAsync(FakeCliCall call, string message) => FailAsync(call, UsageExitCode, "Error: " + message);

    /// <summary>Flags (<c>--flag value</c>, <c>--flag=value</c>, switches) and positional names; false on an unknown flag.</summary>
    private static bool TryParse(List<string> rest, (string[] Valued, string[] Switches) known,
        out Dictionary<string, string?> flags, out List<string> names, out string? error)
    {
        flags = new Dictionary<string, string?>(StringComparer.Ordinal);
        names = [];
        error = null;
        for (var i = 0; i < rest.Count; i++)
        {
            var argument = rest[i];
            if (!argument.StartsWith('-'))
            {
                names.Add(argument);
                continue;
            }
            var (flag, inline) = argument.Contains('=') ? (argument[..argument.IndexOf('=')], argument[(argument.IndexOf('=') + 1)..]) : (argument, null);
            if (known.Switches.Contains(flag))
            {
                flags[flag] = null;
            }
            else if (known.Valued.Contains(flag) && (inline is not null || i + 1 < rest.Count))
            {
                flags[flag] = inline ?? rest[++i];
            }
            else
            {
                error = $"unknown option '{argument}'";
                return false;
            }
        }
        return true;
    }

    /// <summary>Uses up one of the faults a counter holds; false when none is left.</summary>
    private static bool TakeFault(ref int counter)
    {
        while (true)
        {
            var left = Volatile.Read(ref counter);
            if (left <= 0)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref counter, left - 1, left) == left)
            {
                return true;
            }
        }
    }

    private string NewAddress()
    {
        var n = Interlocked.Increment(ref s_nextAddress);
        return $"127.{40 + (n / 62500 % 200)}.{n / 250 % 250}.{(n % 250) + 2}";
    }

    private static string NewMac() =>
        string.Join(':', new[] { (byte)0x7a }.Concat(Enumerable.Range(0, 5).Select(_ => (byte)Random.Shared.Next(256))).Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
}
