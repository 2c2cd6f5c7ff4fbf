using System.Text.Json;
using Tessera.Tests.Shared;
using Tessera.Tracking.TensorBoard;

namespace Tessera.Tracking.Tests.TensorBoard;

/// <summary>
/// The HParams summaries read back by an independent reader: Python's protobuf runtime, with message descriptors built
/// from the field numbers of tensorflow's event.proto/summary.proto and tensorboard's hparams plugin_data.proto/api.proto.
/// </summary>
public sealed class HParamsTests : IDisposable
{
    readonly TempDirectory _temp = new("tessera-hparams-");

    public void Dispose() => _temp.Dispose();

    const string Reader = """
        import json, struct, sys
        from google.protobuf import descriptor_pb2, descriptor_pool, struct_pb2
        from google.protobuf import message_factory
        F = descriptor_pb2.FieldDescriptorProto
        fd = descriptor_pb2.FileDescriptorProto(name="ref.proto", package="ref", syntax="proto3",
                                                dependency=["google/protobuf/struct.proto"])
        def msg(name, *fields):
            m = fd.message_type.add(name=name)
            for (fname, num, ftype, label, tname) in fields:
                f = m.field.add(name=fname, number=num, type=ftype, label=label)
                if tname: f.type_name = tname
            return m
        O, R = F.LABEL_OPTIONAL, F.LABEL_REPEATED
        msg("PluginData", ("plugin_name", 1, F.TYPE_STRING, O, None), ("content", 2, F.TYPE_BYTES, O, None))
        msg("SummaryMetadata", ("plugin_data", 1, F.TYPE_MESSAGE, O, ".ref.PluginData"))
        msg("SummaryValue", ("tag", 1, F.TYPE_STRING, O, None), ("simple_value", 2, F.TYPE_FLOAT, O, None),
            ("metadata", 9, F.TYPE_MESSAGE, O, ".ref.SummaryMetadata"))
        msg("Summary", ("value", 1, F.TYPE_MESSAGE, R, ".ref.SummaryValue"))
        msg("Event", ("wall_time", 1, F.TYPE_DOUBLE, O, None), ("step", 2, F.TYPE_INT64, O, None),
            ("file_version", 3, F.TYPE_STRING, O, None), ("summary", 5, F.TYPE_MESSAGE, O, ".ref.Summary"))
        msg("MetricName", ("group", 1, F.TYPE_STRING, O, None), ("tag", 2, F.TYPE_STRING, O, None))
        msg("MetricInfo", ("name", 1, F.TYPE_MESSAGE, O, ".ref.MetricName"))
        msg("HParamInfo", ("name", 1, F.TYPE_STRING, O, None), ("type", 4, F.TYPE_INT32, O, None))
        msg("Experiment", ("time_created_secs", 3, F.TYPE_DOUBLE, O, None),
            ("hparam_infos", 4, F.TYPE_MESSAGE, R, ".ref.HParamInfo"), ("metric_infos", 5, F.TYPE_MESSAGE, R, ".ref.MetricInfo"))
        entry = msg("SessionStartInfo",
            ("hparams", 1, F.TYPE_MESSAGE, R, ".ref.SessionStartInfo.HparamsEntry"), ("start_time_secs", 5, F.TYPE_DOUBLE, O, None))
        e = entry.nested_type.add(name="HparamsEntry")
        e.options.map_entry = True
        e.field.add(name="key", number=1, type=F.TYPE_STRING, label=O)
        e.field.add(name="value", number=2, type=F.TYPE_MESSAGE, label=O, type_name=".google.protobuf.Value")
        msg("SessionEndInfo", ("status", 1, F.TYPE_INT32, O, None), ("end_time_secs", 2, F.TYPE_DOUBLE, O, None))
        msg("HParamsPluginData", ("version", 1, F.TYPE_INT32, O, None), ("experiment", 2, F.TYPE_MESSAGE, O, ".ref.Experiment"),
            ("session_start_info", 3, F.TYPE_MESSAGE, O, ".ref.SessionStartInfo"), ("session_end_info", 4, F.TYPE_MESSAGE, O, ".ref.SessionEndInfo"))
        pool = descriptor_pool.DescriptorPool()
        pool.AddSerializedFile(descriptor_pb2.FileDescriptorProto.FromString(struct_pb2.DESCRIPTOR.serialized_pb).SerializeToString())
        pool.Add(fd)
        def cls(n): return message_factory.MessageFactory(pool).GetPrototype(pool.FindMessageTypeByName("ref." + n))
        Event, PData = cls("Event"), cls("HParamsPluginData")
        data = open(sys.argv[1], "rb").read()
        pos, out = 0, {"scalars": {}}
        while pos < len(data):
            (n,) = struct.unpack_from("<Q", data, pos); pos += 12
            ev = Event.FromString(data[pos:pos + n]); pos += n + 4
            for v in ev.summary.value:
                if v.metadata.plugin_data.plugin_name == "hparams":
                    p = PData.FromString(v.metadata.plugin_data.content)
                    if v.tag == "_hparams_/experiment":
                        out["experiment"] = {"version": p.version, "hparams": {h.name: h.type for h in p.experiment.hparam_infos},
                                             "metrics": [m.name.tag for m in p.experiment.metric_infos],
                                             "time": p.experiment.time_created_secs}
                    elif v.tag == "_hparams_/session_start_info":
                        hp = {}
                        for k, val in p.session_start_info.hparams.items():
                            kind = val.WhichOneof("kind")
                            hp[k] = None if kind == "null_value" else getattr(val, kind)
                        out["start"] = {"hparams": hp, "time": p.session_start_info.start_time_secs}
                    elif v.tag == "_hparams_/session_end_info":
                        out["end"] = {"status": p.session_end_info.status, "time": p.session_end_info.end_time_secs, "step": ev.step}
                elif not v.metadata.plugin_data.plugin_name:
                    out["scalars"][v.tag] = v.simple_value
        print(json.dumps(out))
        """;

    JsonElement Read(string path)
    {
        Requires.Python("google.protobuf");
        return JsonDocument.Parse(ReferencePython.Run(Reader, path)).RootElement;
    }

    [Fact]
    public void Hyperparameters_metric_names_and_session_status_read_back()
    {
        string path;
        var start = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        using (var writer = new TensorBoardWriter(_temp.Path))
        {
            writer.AddScalar("val/accuracy", 0.875f, 10);
            writer.AddScalar("train/loss", 0.25f, 10);
            writer.AddHParams(new Dictionary<string, object?> { ["lr"] = 3e-3, ["epochs"] = 5, ["model"] = "cnn", ["augment"] = true, ["note"] = null },
                ["val/accuracy", "train/loss"], start);
            writer.AddHParamsSessionEnd(succeeded: false, start.AddSeconds(90), step: 10);
            path = writer.FilePath;
        }
        var root = Read(path);
        var experiment = root.GetProperty("experiment");
        Assert.Equal(0, experiment.GetProperty("version").GetInt32());
        Assert.Equal(1_700_000_000, experiment.GetProperty("time").GetDouble());
        var types = experiment.GetProperty("hparams");
        Assert.Equal(3, types.GetProperty("lr").GetInt32());      // DATA_TYPE_FLOAT64
        Assert.Equal(3, types.GetProperty("epochs").GetInt32());
        Assert.Equal(1, types.GetProperty("model").GetInt32());   // DATA_TYPE_STRING
        Assert.Equal(2, types.GetProperty("augment").GetInt32()); // DATA_TYPE_BOOL
        Assert.Equal(0, types.GetProperty("note").GetInt32());    // unset
        Assert.Equal(["val/accuracy", "train/loss"], experiment.GetProperty("metrics").EnumerateArray().Select(e => e.GetString()!).ToArray());

        var hp = root.GetProperty("start").GetProperty("hparams");
        Assert.Equal(3e-3, hp.GetProperty("lr").GetDouble());
        Assert.Equal(5, hp.GetProperty("epochs").GetDouble());
        Assert.Equal("cnn", hp.GetProperty("model").GetString());
        Assert.True(hp.GetProperty("augment").GetBoolean());
        Assert.Equal(JsonValueKind.Null, hp.GetProperty("note").ValueKind); // null_value set (the reader maps it to None)
        Assert.Equal(1_700_000_000, root.GetProperty("start").GetProperty("time").GetDouble());

        var end = root.GetProperty("end");
        Assert.Equal(2, end.GetProperty("status").GetInt32()); // STATUS_FAILURE
        Assert.Equal(1_700_000_090, end.GetProperty("time").GetDouble());
        Assert.Equal(10, end.GetProperty("step").GetInt64());

        var scalars = root.GetProperty("scalars");
        Assert.Equal(0.875, scalars.GetProperty("val/accuracy").GetDouble());
        Assert.Equal(0.25, scalars.GetProperty("train/loss").GetDouble());
    }
}
