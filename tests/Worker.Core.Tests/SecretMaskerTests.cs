using Worker.Core.Logs;

namespace Worker.Core.Tests;

public sealed class SecretMaskerTests
{
    [Fact]
    public void Secret_in_one_chunk_is_replaced()
    {
        var masker = new SecretMasker(["hunter2"]);
        Assert.Equal("pw=[secure]!", masker.Push("pw=hunter2!") + masker.Flush());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(6)]
    public void Secret_split_across_two_writes_is_still_replaced(int split)
    {
        var masker = new SecretMasker(["hunter2"]);
        var text = "before hunter2 after";
        var cut = "before ".Length + split;
        var output = masker.Push(text[..cut]) + masker.Push(text[cut..]) + masker.Flush();
        Assert.Equal("before [secure] after", output);
    }

    [Fact]
    public void Secret_split_across_many_single_character_writes_is_replaced()
    {
        var masker = new SecretMasker(["abcdef"]);
        var output = string.Concat("xxabcdefyy".Select(c => masker.Push(c.ToString()))) + masker.Flush();
        Assert.Equal("xx[secure]yy", output);
    }

    [Fact]
    public void Text_that_only_starts_like_a_secret_is_emitted_once_it_diverges()
    {
        var masker = new SecretMasker(["hunter2"]);
        Assert.Equal("a ", masker.Push("a hunt"));
        Assert.Equal("hunting", masker.Push("ing"));
    }

    [Fact]
    public void Held_back_prefix_is_released_at_the_end_of_the_stream()
    {
        var masker = new SecretMasker(["hunter2"]);
        Assert.Equal("", masker.Push("hunt"));
        Assert.Equal("hunt", masker.Flush());
    }

    [Fact]
    public void Longer_secret_containing_a_shorter_one_is_masked_whole()
    {
        var masker = new SecretMasker(["abc", "abcdef"]);
        Assert.Equal("[secure] [secure]", masker.Push("abcdef abc") + masker.Flush());
    }

    [Fact]
    public void A_shorter_secret_waits_while_a_longer_one_that_starts_with_it_can_still_arrive()
    {
        var masker = new SecretMasker(["abc", "abcdef"]);
        var output = masker.Push("abc") + masker.Push("def") + masker.Flush();
        Assert.Equal("[secure]", output);
    }

    [Fact]
    public void A_shorter_secret_held_back_for_a_longer_one_is_masked_when_the_longer_one_does_not_come()
    {
        var masker = new SecretMasker(["abc", "abcdef"]);
        Assert.Equal("", masker.Push("abc"));
        Assert.Equal("[secure]xyz", masker.Push("xyz"));
        Assert.Equal("[secure]", masker.Push("abc") + masker.Flush());
    }

    [Fact]
    public void Overlapping_secrets_split_at_every_point_are_masked_whole()
    {
        string[] secrets = ["ab", "abcd", "abcdef"];
        var text = "x abcdef y abcd z ab.";
        for (var cut = 0; cut <= text.Length; cut++)
        {
            var masker = new SecretMasker(secrets);
            var output = masker.Push(text[..cut]) + masker.Push(text[cut..]) + masker.Flush();
            Assert.Equal("x [secure] y [secure] z [secure].", output);
        }
    }

    [Fact]
    public void Without_secrets_text_passes_through_unchanged()
    {
        var masker = new SecretMasker([]);
        Assert.Equal("anything", masker.Push("anything"));
    }
}
