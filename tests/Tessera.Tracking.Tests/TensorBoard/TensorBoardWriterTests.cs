using System.Text.Json;
using Tessera.Formats;
using Tessera.Tests.Shared;
using Tessera.Tracking.TensorBoard;

namespace Tessera.Tracking.Tests.TensorBoard;

public sealed class TensorBoardWriterTests : IDisposable
{
    readonly TempDirectory _temp = new("tessera-tb-");

    public void Dispose() => _temp.Dispose();

    string WriteSample()
    {
        using var writer = new TensorBoardWriter(_temp.Path);
        writer.AddScalar("train/loss", 0.75f, 1, wallTime: 1700000000.25);
        writer.AddScalar("train/loss", 0.5f, 2, wallTime: 1700000001.5);
        writer.AddScalar("val/acc", 0.875f, 2, wallTime: 1700000002);
        writer.AddText("notes", "hello **world**", 3, wallTime: 1700000003);
        writer.Flush();
        return writer.FilePath;
    }

    [Fact]
    public void File_is_named_like_tensorflow_does()
    {
        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string path = WriteSample();
        string name = Path.GetFileName(path);
        Assert.StartsWith("events.out.tfevents.", name);
        string[] parts = name["events.out.tfevents.".Length..].Split('.', 2);
        Assert.InRange(long.Parse(parts[0]), before, before + 5);
        Assert.Equal(Environment.MachineName, parts[1]);
    }

    [Fact]
    public void Two_writers_in_the_same_second_get_different_files()
    {
        using var a = new TensorBoardWriter(_temp.Path);
        using var b = new TensorBoardWriter(_temp.Path);
        Assert.NotEqual(a.FilePath, b.FilePath);
    }

    [Fact]
    public void Round_trip_of_scalars_and_text()
    {
        string path = WriteSample();
        IReadOnlyList<TensorBoardEvent> events = TensorBoardEventReader.ReadEvents(path);
        Assert.Equal(5, events.Count);
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        Assert.Empty(events[0].Values);
        Assert.InRange(events[0].WallTime, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.Equal(
            [
                new TensorBoardScalar("train/loss", 1, 0.75f, 1700000000.25),
                new TensorBoardScalar("train/loss", 2, 0.5f, 1700000001.5),
                new TensorBoardScalar("val/acc", 2, 0.875f, 1700000002),
            ],
            TensorBoardEventReader.ReadScalars(path));
        TensorBoardValue text = Assert.Single(events[4].Values);
        Assert.Equal(("notes", (float?)null, "hello **world**"), (text.Tag, text.SimpleValue, text.Text));
        Assert.Equal(3, events[4].Step);
    }

    [Fact]
    public void Negative_and_large_steps_round_trip()
    {
        string path;
        using (var writer = new TensorBoardWriter(_temp.Path))
        {
            writer.AddScalar("x", float.NegativeInfinity, -1, 1);
            writer.AddScalar("x", 1e30f, long.MaxValue, 2);
            path = writer.FilePath;
        }
        var scalars = TensorBoardEventReader.ReadScalars(path);
        Assert.Equal((-1L, float.NegativeInfinity), (scalars[0].Step, scalars[0].Value));
        Assert.Equal((long.MaxValue, 1e30f), (scalars[1].Step, scalars[1].Value));
    }

    [Fact]
    public void Corrupt_data_byte_is_detected_with_record_position()
    {
        string path = WriteSample();
        byte[] bytes = File.ReadAllBytes(path);
        long firstRecordLength = BitConverter.ToInt64(bytes, 0);
        int secondRecord = (int)(12 + firstRecordLength + 4);
        bytes[secondRecord + 12 + 3] ^= 0x40; // a byte inside the second record's data
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<TesseraFormatException>(() => TensorBoardEventReader.ReadEvents(path));
        Assert.Equal($"{path}: record 1 at byte {secondRecord}: data CRC mismatch (corrupt file)", e.Message);
    }

    [Fact]
    public void Corrupt_length_is_detected()
    {
        string path = WriteSample();
        byte[] bytes = File.ReadAllBytes(path);
        bytes[1] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<TesseraFormatException>(() => TensorBoardEventReader.ReadEvents(path));
        Assert.Equal($"{path}: record 0 at byte 0: length CRC mismatch (corrupt file)", e.Message);
    }

    [Fact]
    public void Truncated_file_is_detected()
    {
        string path = WriteSample();
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^2]);
        var e = Assert.Throws<TesseraFormatException>(() => TensorBoardEventReader.ReadEvents(path));
        Assert.Contains(": truncated data (record needs", e.Message);
        File.WriteAllBytes(path, bytes[..5]);
        e = Assert.Throws<TesseraFormatException>(() => TensorBoardEventReader.ReadEvents(path));
        Assert.Equal($"{path}: record 0 at byte 0: truncated header (5 of 12 bytes)", e.Message);
    }

    [Fact]
    public void Writer_after_dispose_throws()
    {
        var writer = new TensorBoardWriter(_temp.Path);
        writer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => writer.AddScalar("x", 1, 1));
    }

    // An independent reader in Python's standard library: its own CRC-32C, framing and protobuf decoding.
    const string PyReader = """
        import json, struct, sys
        def crc32c(data):
            crc = 0xFFFFFFFF
            for b in data:
                crc ^= b
                for _ in range(8):
                    crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
            return crc ^ 0xFFFFFFFF
        def masked(data):
            c = crc32c(data)
            return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF
        def varint(buf, i):
            shift = result = 0
            while True:
                b = buf[i]; i += 1
                result |= (b & 0x7F) << shift
                if not b & 0x80: return result, i
                shift += 7
        def fields(buf):
            i = 0
            while i < len(buf):
                key, i = varint(buf, i)
                num, wt = key >> 3, key & 7
                if wt == 0: v, i = varint(buf, i)
                elif wt == 1: v = buf[i:i + 8]; i += 8
                elif wt == 5: v = buf[i:i + 4]; i += 4
                elif wt == 2:
                    n, i = varint(buf, i); v = buf[i:i + n]; i += n
                else: raise ValueError("wire type %d" % wt)
                yield num, wt, v
        raw = open(sys.argv[1], "rb").read()
        pos, events = 0, []
        while pos < len(raw):
            (n,) = struct.unpack("<Q", raw[pos:pos + 8])
            assert struct.unpack("<I", raw[pos + 8:pos + 12])[0] == masked(raw[pos:pos + 8]), "length crc"
            data = raw[pos + 12:pos + 12 + n]
            assert struct.unpack("<I", raw[pos + 12 + n:pos + 16 + n])[0] == masked(data), "data crc"
            pos += 16 + n
            ev = {"wall_time": None, "step": 0, "file_version": None, "values": []}
            for num, wt, v in fields(data):
                if num == 1 and wt == 1: ev["wall_time"] = struct.unpack("<d", v)[0]
                elif num == 2 and wt == 0: ev["step"] = v - (1 << 64) if v >= 1 << 63 else v
                elif num == 3: ev["file_version"] = v.decode()
                elif num == 5:
                    for snum, swt, sv in fields(v):
                        if snum != 1: continue
                        val = {}
                        for vnum, vwt, vv in fields(sv):
                            if vnum == 1: val["tag"] = vv.decode()
                            elif vnum == 2 and vwt == 5: val["simple_value"] = struct.unpack("<f", vv)[0]
                            elif vnum == 8:
                                for tnum, twt, tv in fields(vv):
                                    if tnum == 1: val["dtype"] = tv
                                    if tnum == 8: val["text"] = tv.decode()
                            elif vnum == 9:
                                for mnum, mwt, mv in fields(vv):
                                    if mnum == 1: val["plugin"] = dict((a, b.decode()) for a, _, b in fields(mv) if a == 1).get(1)
                        ev["values"].append(val)
            events.append(ev)
        print(json.dumps(events))
        """;

    [Fact]
    public void Independent_python_reader_agrees()
    {
        Requires.Python();
        string path = WriteSample();
        string output = ReferencePython.Run(PyReader, path);

        JsonElement events = JsonDocument.Parse(output).RootElement;
        Assert.Equal(5, events.GetArrayLength());
        Assert.Equal("brain.Event:2", events[0].GetProperty("file_version").GetString());
        Assert.Equal(0, events[0].GetProperty("values").GetArrayLength());

        (string Tag, long Step, float Value, double Wall)[] expected =
            [("train/loss", 1, 0.75f, 1700000000.25), ("train/loss", 2, 0.5f, 1700000001.5), ("val/acc", 2, 0.875f, 1700000002)];
        for (int i = 0; i < expected.Length; i++)
        {
            JsonElement ev = events[i + 1];
            JsonElement value = ev.GetProperty("values")[0];
            Assert.Equal(expected[i].Tag, value.GetProperty("tag").GetString());
            Assert.Equal(expected[i].Value, (float)value.GetProperty("simple_value").GetDouble());
            Assert.Equal(expected[i].Step, ev.GetProperty("step").GetInt64());
            Assert.Equal(expected[i].Wall, ev.GetProperty("wall_time").GetDouble());
        }
        JsonElement text = events[4].GetProperty("values")[0];
        Assert.Equal("hello **world**", text.GetProperty("text").GetString());
        Assert.Equal(7, text.GetProperty("dtype").GetInt32()); // DT_STRING
        Assert.Equal("text", text.GetProperty("plugin").GetString());
    }
}
