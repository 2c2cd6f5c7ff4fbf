using Tessera.Tests.Shared;

namespace Tessera.Hub.Tests;

public sealed class HubOptionsTests
{
    static HubOptions From(params (string Name, string Value)[] variables)
    {
        var env = variables.ToDictionary(v => v.Name, v => (string?)v.Value);
        return HubOptions.FromEnvironment(name => env.GetValueOrDefault(name));
    }

    [Fact]
    public void Defaults_are_the_public_hub_and_the_user_cache()
    {
        var options = From(("HF_TOKEN_PATH", "/nonexistent/token"));
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

        Assert.Equal("https://huggingface.co", options.Endpoint);
        Assert.Null(options.Token);
        Assert.False(options.Offline);
        Assert.Equal(Path.Combine(home, ".cache", "huggingface", "hub"), options.CacheDir);
    }

    [Fact]
    public void Hub_cache_wins_over_hf_home_which_wins_over_xdg()
    {
        Assert.Equal("/c/hub-cache", From(("HF_HUB_CACHE", "/c/hub-cache"), ("HF_HOME", "/c/home")).CacheDir);
        Assert.Equal(Path.Combine("/c/home", "hub"), From(("HF_HOME", "/c/home"), ("XDG_CACHE_HOME", "/c/xdg")).CacheDir);
        Assert.Equal(Path.Combine("/c/xdg", "huggingface", "hub"), From(("XDG_CACHE_HOME", "/c/xdg")).CacheDir);
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("true", true)]
    [InlineData("ON", true)]
    [InlineData("0", false)]
    [InlineData("", false)]
    public void Offline_follows_HF_HUB_OFFLINE(string value, bool offline) =>
        Assert.Equal(offline, From(("HF_HUB_OFFLINE", value)).Offline);

    [Fact]
    public void Endpoint_and_token_come_from_the_environment_or_the_token_file()
    {
        var options = From(("HF_ENDPOINT", "http://mirror.example/"), ("HF_TOKEN", " hf_abc \n"));
        Assert.Equal("http://mirror.example", options.Endpoint);
        Assert.Equal("hf_abc", options.Token);

        using var tmp = new TempDirectory("tessera-hub-");
        File.WriteAllText(Path.Combine(tmp.Path, "token"), "hf_from_file\n");
        Assert.Equal("hf_from_file", From(("HF_HOME", tmp.Path)).Token);
    }

    [Fact]
    public void Client_rejects_bad_options()
    {
        Assert.Throws<ArgumentException>(() => new HubClient(new HubOptions { Endpoint = "not a url", CacheDir = "/tmp/x" }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HubClient(new HubOptions { MaxParallelDownloads = 0, CacheDir = "/tmp/x" }));
    }
}
