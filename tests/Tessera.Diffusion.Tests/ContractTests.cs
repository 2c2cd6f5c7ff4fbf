using Tessera.Diffusion.Schedulers;

namespace Tessera.Diffusion.Tests;

public class ContractTests
{
    [Fact]
    public void Unknown_keys_have_a_home() => Assert.Empty(new SchedulerConfig().Extra);
}
