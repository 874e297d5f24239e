namespace Worker.Docker.Tests;

public sealed class CpuSetsTests
{
    [Fact]
    public void Containers_spread_over_the_cpus_the_lowest_free_first()
    {
        var sets = new CpuSets(8, first: 0);

        Assert.Equal("0,1", sets.Take(2)!.Cpus);
        Assert.Equal("2,3", sets.Take(2)!.Cpus);
        Assert.Equal("4", sets.Take(1)!.Cpus);
        Assert.Equal("5,6,7", sets.Take(3)!.Cpus);
    }

    [Fact]
    public void A_fraction_of_a_cpu_is_pinned_to_a_whole_one_and_more_than_the_set_to_all_of_it()
    {
        var sets = new CpuSets(4, first: 0);

        Assert.Equal("0,1", sets.Take(1.5)!.Cpus);
        Assert.Equal("2", sets.Take(0.25)!.Cpus);
        Assert.Equal("0,1,2,3", new CpuSets(4, first: 0).Take(16)!.Cpus);
    }

    [Fact]
    public void When_every_cpu_is_taken_the_least_shared_are_shared_and_none_is_refused()
    {
        var sets = new CpuSets(4, first: 0);
        var first = sets.Take(2)!;
        var second = sets.Take(2)!;

        Assert.Equal(("0,1", "2,3"), (first.Cpus, second.Cpus));
        Assert.Equal("0,1", sets.Take(2)!.Cpus);
        Assert.Equal("2,3", sets.Take(2)!.Cpus);
        second.Dispose();
        Assert.Equal("2,3", sets.Take(2)!.Cpus); // now used by one container each, the others by two
        Assert.Equal([2, 2, 2, 2], sets.Users());
    }

    [Fact]
    public void A_lease_given_back_frees_its_cpus_once_however_often_it_is_given_back()
    {
        var sets = new CpuSets(2, first: 0);
        var lease = sets.Take(1)!;
        var other = sets.Take(1)!;

        lease.Dispose();
        lease.Dispose();

        Assert.Equal([0, 1], sets.Users());
        Assert.Equal("0", sets.Take(1)!.Cpus);
        other.Dispose();
        Assert.Equal([1, 0], sets.Users());
    }

    [Fact]
    public void A_worker_starts_at_a_cpu_of_its_own_and_goes_on_round_the_set()
    {
        var sets = new CpuSets(4, first: 3);

        Assert.Equal("0,3", sets.Take(2)!.Cpus);
        Assert.Equal("1,2", sets.Take(2)!.Cpus);
    }

    [Theory]
    [InlineData(0, 2.0)]
    [InlineData(4, 0.0)]
    public void Nothing_is_pinned_without_a_cpu_set_or_without_a_cpu_limit(int size, double cpus) =>
        Assert.Null(new CpuSets(size).Take(cpus));

    [Fact]
    public void A_container_pinned_by_a_worker_that_is_gone_is_counted_in_the_engines_notation_and_given_back()
    {
        var sets = new CpuSets(4, first: 0);

        var held = sets.Hold("0-1,3,9");

        Assert.Equal([1, 1, 0, 1], sets.Users()); // CPU 9 is outside the set
        Assert.Equal("2", sets.Take(1)!.Cpus);
        held!.Dispose();
        Assert.Equal([0, 0, 1, 0], sets.Users());
    }

    [Theory]
    [InlineData("")]
    [InlineData("8-9")]
    [InlineData("1-x")]
    [InlineData("3-1")]
    public void A_cpu_list_with_nothing_in_the_set_or_that_cant_be_read_is_not_counted(string cpus)
    {
        var sets = new CpuSets(4);

        Assert.Null(sets.Hold(cpus));
        Assert.Equal([0, 0, 0, 0], sets.Users());
    }
}
