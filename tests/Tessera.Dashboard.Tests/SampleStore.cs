using System.IO.Compression;
using System.Text;
using Tessera.Tracking.Capture;
using Tessera.Tracking.Runs;

namespace Tessera.Dashboard.Tests;

/// <summary>
/// A runs store the tests fill: two finished runs (a CNN with a model folder, card and sample image; an MLP) and one
/// still running, whose handle the test keeps to log more points while the dashboard shows it.
/// </summary>
sealed class SampleStore : IDisposable
{
    public const int LossSteps = 50;

    readonly TempDirectory temp = new("tessera-dashboard-");

    public SampleStore()
    {
        Path = temp.File("runs.db");
        Store = RunStore.Open(Path);

        using (var cnn = Store.StartRun(new RunStartOptions { Experiment = "train", Name = "train-cnn", CommandLine = "tessera train fashion-mnist --model cnn", Tags = new Dictionary<string, string> { ["team"] = "vision" } }))
        {
            CnnId = cnn.Id;
            cnn.LogParams(new Dictionary<string, string> { ["model"] = "cnn", ["lr"] = "0.001", ["epochs"] = "5" });
            for (int step = 1; step <= LossSteps; step++) cnn.LogMetric("train_loss", CnnLoss(step), step);
            for (int step = 10; step <= LossSteps; step += 10) cnn.LogMetric("val_acc", 0.5 + step / 200.0, step);
            cnn.LogEnvironment(new RunEnvironment(new Dictionary<string, string> { ["version.tessera"] = "0.1.0", ["os"] = "Debian 12", ["HF_TOKEN"] = RunEnvironment.Redacted }));
            string data = Directory.CreateDirectory(temp.File("data")).FullName;
            File.WriteAllText(System.IO.Path.Combine(data, "train.csv"), "x,y\n1,2\n");
            cnn.LogDataset(DatasetInfo.FromPath("toy-data", data));
            string model = Directory.CreateDirectory(temp.File("out/model")).FullName;
            File.WriteAllText(System.IO.Path.Combine(model, "config.json"), "{\"model_type\":\"cnn\"}");
            File.WriteAllBytes(System.IO.Path.Combine(model, "model.safetensors"), new byte[64]);
            File.WriteAllText(System.IO.Path.Combine(model, "README.md"), Card);
            cnn.LogArtifact(model, ArtifactKind.ModelFolder);
            ImagePath = temp.File("out/samples.png");
            File.WriteAllBytes(ImagePath, Png(8, 6));
            cnn.LogArtifact(ImagePath, ArtifactKind.Plot);
        }

        using (var mlp = Store.StartRun(new RunStartOptions { Experiment = "train", Name = "train-mlp", CommandLine = "tessera train fashion-mnist --model mlp" }))
        {
            MlpId = mlp.Id;
            mlp.LogParams(new Dictionary<string, string> { ["model"] = "mlp", ["lr"] = "0.003", ["epochs"] = "5" });
            for (int step = 1; step <= LossSteps; step++) mlp.LogMetric("train_loss", 1.5 / step + 0.2, step);
            mlp.LogMetric("val_acc", 0.81, LossSteps);
        }

        Running = Store.StartRun(new RunStartOptions { Experiment = "eval", Name = "eval-running" });
        Running.LogParam("model", "cnn");
        for (int step = 1; step <= 5; step++) Running.LogMetric("train_loss", 2.0 / step, step);
        Running.Flush();
    }

    public string Path { get; }

    public RunStore Store { get; }

    public string CnnId { get; }

    public string MlpId { get; }

    public TrackedRun Running { get; }

    public string ImagePath { get; }

    public static double CnnLoss(int step) => 2.0 * Math.Exp(-step / 15.0) + 0.1;

    public const string Card = """
        ---
        library_name: tessera
        tags:
        - image-classification
        ---
        # Fashion-MNIST CNN

        A **small** convolutional classifier, see [the docs](https://example.org/docs) and [bad](javascript:alert(1)).

        | metric | value |
        |---|---|
        | accuracy | 0.91 |

        <script>alert("card")</script>
        """;

    /// <summary>A valid RGB PNG of <paramref name="width"/> x <paramref name="height"/> (a gradient).</summary>
    public static byte[] Png(int width, int height)
    {
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            raw.WriteByte(0); // filter: none
            for (int x = 0; x < width; x++) raw.Write([(byte)(x * 30), (byte)(y * 40), 128]);
        }
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(raw.ToArray());
        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 2; // RGB
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    static void Chunk(Stream png, string type, byte[] data)
    {
        var length = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.Write(length);
        byte[] typed = [.. Encoding.ASCII.GetBytes(type), .. data];
        png.Write(typed);
        var crc = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
        png.Write(crc);
    }

    static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    public void Dispose()
    {
        Running.End(RunStatus.Finished);
        Store.Dispose();
        temp.Dispose();
    }
}
