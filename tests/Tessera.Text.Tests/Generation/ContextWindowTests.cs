using Tessera.Text.Generation;

namespace Tessera.Text.Tests.Generation;

public class ContextWindowTests
{
    static readonly int[] Prompt = [.. Enumerable.Range(100, 10)];

    [Fact]
    public void A_prompt_that_fits_or_an_unknown_context_is_returned_unchanged()
    {
        Assert.Same(Prompt, ContextWindow.FitPrompt(Prompt, 6, 16, truncatePrompt: true));
        Assert.Same(Prompt, ContextWindow.FitPrompt(Prompt, 100, null, truncatePrompt: true));
        // Without truncation a prompt that leaves room is kept whole; generation stops at the context.
        Assert.Same(Prompt, ContextWindow.FitPrompt(Prompt, 100, 11, truncatePrompt: false));
    }

    [Fact]
    public void Truncation_keeps_the_last_tokens_so_prompt_plus_new_tokens_fit()
    {
        Assert.Equal([106, 107, 108, 109], ContextWindow.FitPrompt(Prompt, 8, 12, truncatePrompt: true));
        Assert.Equal([109], ContextWindow.FitPrompt(Prompt, 11, 12, truncatePrompt: true));
        Assert.Equal(Prompt[2..], ContextWindow.FitPrompt(Prompt, 0, 8, truncatePrompt: true));
    }

    [Fact]
    public void A_prompt_that_fills_the_context_is_an_error_naming_the_sizes_and_the_option()
    {
        var e = Assert.Throws<ArgumentException>(() => ContextWindow.FitPrompt(Prompt, 4, 10, truncatePrompt: false));
        Assert.Contains("10 tokens", e.Message);
        Assert.Contains("max_new_tokens is 4", e.Message);
        Assert.Contains("context is 10 positions", e.Message);
        Assert.Contains("--truncate-prompt", e.Message);
        Assert.Contains("last 6 tokens", e.Message);
    }

    [Fact]
    public void Truncation_cannot_help_when_the_new_tokens_alone_fill_the_context()
    {
        var e = Assert.Throws<ArgumentException>(() => ContextWindow.FitPrompt(Prompt, 12, 12, truncatePrompt: true));
        Assert.Contains("max_new_tokens = 12", e.Message);
        Assert.Contains("at most 11 new tokens", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ContextWindow.FitPrompt(Prompt, -1, 12, truncatePrompt: true));
    }
}
