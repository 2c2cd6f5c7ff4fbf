using System.Text.Json.Nodes;

namespace Tessera.Diffusion.Schedulers;

/// <summary>
/// Diffusers' <c>scheduler_config.json</c>: typed fields with diffusers' names and defaults, plus every other key
/// kept as read (real configs carry other schedulers' keys), <c>_class_name</c> and <c>_diffusers_version</c>.
/// </summary>
public sealed partial class SchedulerConfig
{
    /// <summary>The scheduler class name (<c>_class_name</c>), e.g. <c>DDIMScheduler</c>.</summary>
    public string ClassName { get; set; } = "DDPMScheduler";

    /// <summary>Every key of the file that has no typed property here, kept for writing back.</summary>
    public JsonObject Extra { get; } = new();

    // CONTRACT (implemented by the schedulers work): typed properties for diffusers' fields, Load(path)/Parse(json)
    // lenient as diffusers (bare Infinity/-Infinity/NaN parse), Save(path) atomically, ToJson().
}

/// <summary>Creates schedulers by diffusers class name or CLI short name and loads them from a folder.</summary>
public static partial class Schedulers
{
    // CONTRACT (implemented by the schedulers work):
    //   IDiffusionScheduler Create(SchedulerConfig config)            // by config.ClassName
    //   IDiffusionScheduler Create(string shortOrClassName, SchedulerConfig? from = null)   // ddpm|ddim|euler|euler-a|dpm++, like diffusers' from_config
    //   IDiffusionScheduler FromFolder(string folder)                 // scheduler_config.json in folder
    //   void Save(IDiffusionScheduler scheduler, string folder)
}
