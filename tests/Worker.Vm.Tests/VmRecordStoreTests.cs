using System.Diagnostics;
using Worker.Core.Backends;

namespace Worker.Vm.Tests;

/// <summary>The records and lock files under WORKER_BASE_DIR: who may remove a lock file, and when.</summary>
public sealed class VmRecordStoreTests : IDisposable
{
    private static readonly Dictionary<string, string> Labels = new() { [MachineLabels.Fleet] = "records-test" };

    private readonly string _dir = Directory.CreateTempSubdirectory("vm-records-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private VmRecordStore Store => new(_dir);

    private string LockPath(string name) => Path.Combine(_dir, name + ".lock");

    private string RecordPath(string name) => Path.Combine(_dir, name + ".json");

    [Fact]
    public void A_lock_file_with_no_record_that_no_process_holds_is_removed_by_the_sweep_and_only_found_by_a_dry_run()
    {
        // As a worker killed between taking the lock and writing the record leaves it.
        File.WriteAllText(LockPath("killed-before-record"), "4242\n");

        Assert.Equal([LockPath("killed-before-record")], Store.SweepStrayLocks(dryRun: true));
        Assert.True(File.Exists(LockPath("killed-before-record")));
        Assert.Equal([LockPath("killed-before-record")], Store.SweepStrayLocks(dryRun: false));
        Assert.False(File.Exists(LockPath("killed-before-record")));
        Assert.Empty(Store.SweepStrayLocks(dryRun: false));
    }

    [Fact]
    public void A_lock_file_whose_record_is_being_written_is_held_and_never_removed()
    {
        using var making = VmLockFile.Take(LockPath("being-made"));

        Assert.Empty(Store.SweepStrayLocks(dryRun: true));
        Assert.Empty(Store.SweepStrayLocks(dryRun: false));
        Assert.True(File.Exists(LockPath("being-made")));
        Assert.True(Store.IsHeld("being-made"));
    }

    [Fact]
    public async Task A_lock_file_another_process_holds_is_never_removed_and_is_once_that_process_is_gone()
    {
        var path = LockPath("held-elsewhere");
        await using (await LockHolder.StartAsync(path))
        {
            Assert.Empty(Store.SweepStrayLocks(dryRun: true));
            Assert.Empty(Store.SweepStrayLocks(dryRun: false));
            Assert.True(File.Exists(path));
            Assert.True(Store.IsHeld("held-elsewhere"));
        }

        Assert.Equal([path], Store.SweepStrayLocks(dryRun: false));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void A_lock_file_with_a_record_is_left_to_the_inventory_that_judges_its_VM()
    {
        // As a worker killed mid-job leaves them: the record and the lock file, held by nobody.
        File.WriteAllText(LockPath("crashed-mid-job"), "4242\n");
        File.WriteAllText(RecordPath("crashed-mid-job"), "{}");

        Assert.Empty(Store.SweepStrayLocks(dryRun: false));
        Assert.True(File.Exists(LockPath("crashed-mid-job")));
        Assert.False(Store.IsHeld("crashed-mid-job"));
    }

    [Fact]
    public async Task A_released_VM_keeps_its_record_and_loses_its_lock_file_and_a_forgotten_one_loses_both()
    {
        var store = Store;
        var released = store.Create("released", "tart", Labels);
        var forgotten = store.Create("forgotten", "tart", Labels);
        Assert.Equal($"{Environment.ProcessId}\n", await ReadLockedAsync(LockPath("released")));

        released.Release();
        forgotten.Forget();

        Assert.Equal(["released.json"], Directory.GetFiles(_dir).Select(Path.GetFileName));
        Assert.False(store.IsHeld("released"));
    }

    [Fact]
    public async Task A_stray_lock_file_of_the_same_name_is_taken_over_with_this_workers_pid()
    {
        File.WriteAllText(LockPath("reused"), "123456789\n");

        using var held = Store.Create("reused", "tart", Labels);

        Assert.True(Store.IsHeld("reused"));
        Assert.Equal($"{Environment.ProcessId}\n", await ReadLockedAsync(LockPath("reused")));
    }

    [Fact]
    public void A_name_that_has_a_record_is_not_made_again_and_its_record_stays()
    {
        var store = Store;
        store.Create("taken", "tart", Labels).Release();

        Assert.Throws<IOException>(() => store.Create("taken", "vetu", Labels));

        Assert.Equal("tart", store.Read("taken")?.Tool);
        Assert.Equal(["taken.json"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Every_lock_taken_while_sweeps_run_is_held_at_its_path_whatever_the_sweep_caught_halfway()
    {
        // A sweep that opens a new lock file between its maker's open and flock finds no record, takes it and
        // removes it. The maker must then hold the lock file at the path, not the removed one.
        var store = Store;
        using var stop = new CancellationTokenSource();
        var sweeps = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                new VmRecordStore(_dir).SweepStrayLocks(dryRun: false);
            }
        })).ToList();
        var lost = new List<string>();
        try
        {
            for (var i = 0; i < 3000; i++)
            {
                var name = $"vm-{i}";
                using var held = store.Create(name, "tart", Labels);
                if (!store.IsHeld(name))
                {
                    lost.Add(name);
                }
                held.Forget();
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(sweeps);
        }

        Assert.Empty(lost);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    /// <summary>A locked file's text: .NET's own reads take a shared lock, which the holder's refuses, so cat reads it.</summary>
    private static async Task<string> ReadLockedAsync(string path)
    {
        using var cat = Process.Start(new ProcessStartInfo("cat", [path]) { RedirectStandardOutput = true })!;
        var text = await cat.StandardOutput.ReadToEndAsync();
        await cat.WaitForExitAsync();
        return text;
    }
}
