using System.Globalization;
using Parquet;
using Parquet.Schema;
using Tessera.Formats;

namespace Tessera.Hub.Datasets;

/// <summary>
/// Reads the asked-for columns of a Parquet file one row group at a time (Parquet.Net seeks to each column chunk;
/// only the current row group's columns are in memory). Every failure becomes a <see cref="TesseraFormatException"/>
/// naming the file, and the row group and column where there is one.
/// </summary>
internal static class ParquetBatchReader
{
    /// <summary>The most rows a row group may have (pyarrow writes at most 1Mi per row group by default).</summary>
    public const int MaxRowsPerRowGroup = 1 << 24;

    public static IEnumerable<DatasetBatch> Read(string path, IReadOnlyList<DatasetColumn> columns)
    {
        ParquetReader reader = Guard(path, null, null, () => Wait(ParquetReader.CreateAsync(path)));
        try
        {
            DataField[] fields = [.. columns.Select(c => Resolve(reader.Schema, c, path))];
            long first = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                int group = g;
                using ParquetRowGroupReader rowGroup = Guard(path, group, null, () => reader.OpenRowGroupReader(group));
                // A row group's column arrays are allocated up front: a hostile footer claiming billions of rows is refused here.
                if (rowGroup.RowCount is < 0 or > MaxRowsPerRowGroup)
                    throw new TesseraFormatException(path, $"row group {group}: {rowGroup.RowCount} rows, more than the {MaxRowsPerRowGroup:N0} one batch may hold");
                int count = (int)rowGroup.RowCount;
                var values = new Array[columns.Count];
                for (int c = 0; c < columns.Count; c++)
                {
                    DataField field = fields[c];
                    DatasetColumn column = columns[c];
                    values[c] = Guard(path, group, column.Name, () => ReadColumn(rowGroup, field, column, count));
                }
                yield return new DatasetBatch(path, group, first, count, columns, values);
                first += count;
            }
        }
        finally
        {
            Wait(reader.DisposeAsync());
        }
    }

    /// <summary>Finds the top-level field for <paramref name="column"/> and checks that its type can be read as asked.</summary>
    static DataField Resolve(ParquetSchema schema, DatasetColumn column, string path)
    {
        Field? field = schema.Fields.FirstOrDefault(f => f.Name == column.Name);
        if (field is null)
            throw new TesseraFormatException(path, $"no column \"{column.Name}\"; the file has: {string.Join(", ", schema.Fields.Select(f => $"\"{f.Name}\""))}");
        if (field is not DataField data || data.IsArray)
            throw new TesseraFormatException(path, $"column \"{column.Name}\" is a nested {field.SchemaType.ToString().ToLowerInvariant()} column, expected {column.Expected}");
        Type type = data.ClrType;
        bool ok = column.Type switch
        {
            DatasetColumnType.String => IsString(type),
            DatasetColumnType.Int64 => IsInteger(type),
            DatasetColumnType.Double => IsInteger(type) || IsReal(type),
            DatasetColumnType.Boolean => type == typeof(bool),
            _ => IsString(type) || type == typeof(bool) || IsInteger(type) || IsReal(type),
        };
        if (!ok) throw new TesseraFormatException(path, $"column \"{column.Name}\" holds {TypeName(type)} values, expected {column.Expected}");
        return data;
    }

    // Parquet.Net 6 reports UTF-8 string columns as ReadOnlyMemory<char> (strings read as string through its string overload).
    static bool IsString(Type t) => t == typeof(string) || t == typeof(ReadOnlyMemory<char>);

    static bool IsInteger(Type t) => t == typeof(long) || t == typeof(int) || t == typeof(short) || t == typeof(sbyte)
        || t == typeof(ulong) || t == typeof(uint) || t == typeof(ushort) || t == typeof(byte);

    static bool IsReal(Type t) => t == typeof(double) || t == typeof(float) || t == typeof(decimal);

    static string TypeName(Type t) => IsString(t) ? "string" : t == typeof(bool) ? "boolean"
        : IsInteger(t) ? $"integer ({t.Name})" : IsReal(t) ? $"real ({t.Name})" : t == typeof(byte[]) || t == typeof(ReadOnlyMemory<byte>) ? "binary"
        : t.IsGenericType ? $"{t.Name[..t.Name.IndexOf('`')]}<{string.Join(", ", t.GetGenericArguments().Select(a => a.Name))}>" : t.Name;

    static Array ReadColumn(ParquetRowGroupReader rowGroup, DataField field, DatasetColumn column, int count)
    {
        Type type = field.ClrType;
        if (IsString(type))
        {
            var strings = new string?[count];
            Wait(rowGroup.ReadAsync(field, strings.AsMemory()!, null));
            return strings;
        }
        if (type == typeof(bool))
        {
            bool?[] flags = Values<bool>(rowGroup, field, count);
            return column.Type == DatasetColumnType.Label ? Array.ConvertAll(flags, b => b is { } v ? (v ? "true" : "false") : null) : flags;
        }
        if (IsInteger(type))
        {
            long?[] longs = type == typeof(long) ? Values<long>(rowGroup, field, count)
                : type == typeof(int) ? Widen(Values<int>(rowGroup, field, count), v => (long)v)
                : type == typeof(short) ? Widen(Values<short>(rowGroup, field, count), v => (long)v)
                : type == typeof(sbyte) ? Widen(Values<sbyte>(rowGroup, field, count), v => (long)v)
                : type == typeof(byte) ? Widen(Values<byte>(rowGroup, field, count), v => (long)v)
                : type == typeof(ushort) ? Widen(Values<ushort>(rowGroup, field, count), v => (long)v)
                : type == typeof(uint) ? Widen(Values<uint>(rowGroup, field, count), v => (long)v)
                : Widen(Values<ulong>(rowGroup, field, count), v => checked((long)v));
            return column.Type switch
            {
                DatasetColumnType.Double => Array.ConvertAll(longs, v => (double?)v),
                DatasetColumnType.Label => Array.ConvertAll(longs, v => v?.ToString(CultureInfo.InvariantCulture)),
                _ => longs,
            };
        }
        double?[] reals = type == typeof(double) ? Values<double>(rowGroup, field, count)
            : type == typeof(float) ? Widen(Values<float>(rowGroup, field, count), v => (double)v)
            : Widen(Values<decimal>(rowGroup, field, count), v => (double)v);
        return column.Type == DatasetColumnType.Label ? Array.ConvertAll(reals, v => v?.ToString("R", CultureInfo.InvariantCulture)) : reals;
    }

    static T?[] Values<T>(ParquetRowGroupReader rowGroup, DataField field, int count) where T : struct
    {
        var result = new T?[count];
        if (field.IsNullable)
        {
            Wait(rowGroup.ReadAsync<T>(field, result.AsMemory(), null));
            return result;
        }
        var raw = new T[count];
        Wait(rowGroup.ReadAsync<T>(field, raw.AsMemory(), null));
        for (int i = 0; i < count; i++) result[i] = raw[i];
        return result;
    }

    static TOut?[] Widen<TIn, TOut>(TIn?[] values, Func<TIn, TOut> convert) where TIn : struct where TOut : struct
    {
        var result = new TOut?[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = values[i] is { } v ? convert(v) : null;
        return result;
    }

    static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();

    static void Wait(Task task) => task.GetAwaiter().GetResult();

    static void Wait(ValueTask task) => task.AsTask().GetAwaiter().GetResult();

    static T Wait<T>(ValueTask<T> task) => task.AsTask().GetAwaiter().GetResult();

    /// <summary>Runs a Parquet.Net call; whatever it throws on a bad file becomes one line naming the file, row group and column.</summary>
    static T Guard<T>(string path, int? rowGroup, string? column, Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (e is not (TesseraFormatException or OperationCanceledException or OutOfMemoryException))
        {
            string where = (rowGroup is { } g ? $"row group {g}: " : "") + (column is null ? "" : $"column \"{column}\": ");
            string what = rowGroup is null ? "not a readable Parquet file" : "cannot be read";
            throw new TesseraFormatException(path, $"{where}{what} ({e.GetType().Name}: {OneLine(e.Message)})", e);
        }
    }

    static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
