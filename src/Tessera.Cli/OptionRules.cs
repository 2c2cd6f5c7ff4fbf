using System.CommandLine;
using System.Globalization;

namespace Tessera.Cli;

/// <summary>
/// Range checks on numeric options. A value out of range is a parse error like an unknown flag: one line naming the
/// option and what it accepts, exit code 2, before any file is read or any training starts.
/// </summary>
static class OptionRules
{
    public static Option<int> AtLeast(this Option<int> option, int min) =>
        option.Check(v => v >= min, $"at least {min}");

    public static Option<int?> AtLeast(this Option<int?> option, int min) =>
        option.Check(v => v is not { } x || x >= min, $"at least {min}");

    public static Option<long> AtLeast(this Option<long> option, long min) =>
        option.Check(v => v >= min, $"at least {min}");

    /// <summary>A finite number above zero (learning rates, scales): NaN and Infinity are refused.</summary>
    public static Option<double> PositiveFinite(this Option<double> option) =>
        option.Check(v => double.IsFinite(v) && v > 0, "a finite number above 0");

    /// <inheritdoc cref="PositiveFinite(Option{double})"/>
    public static Option<double?> PositiveFinite(this Option<double?> option) =>
        option.Check(v => v is not { } x || double.IsFinite(x) && x > 0, "a finite number above 0");

    /// <summary>A probability-like value in [0, 1) (label smoothing, dropout).</summary>
    public static Option<double> Fraction(this Option<double> option) =>
        option.Check(v => v is >= 0 and < 1, "at least 0 and below 1");

    /// <summary>A value in [0, 1] (DDIM's eta).</summary>
    public static Option<double> UnitInterval(this Option<double> option) =>
        option.Check(v => v is >= 0 and <= 1, "at least 0 and at most 1");

    /// <inheritdoc cref="Fraction(Option{double})"/>
    public static Option<double?> Fraction(this Option<double?> option) =>
        option.Check(v => v is not { } x || x is >= 0 and < 1, "at least 0 and below 1");

    static Option<T> Check<T>(this Option<T> option, Func<T, bool> valid, string expected)
    {
        option.Validators.Add(result =>
        {
            if (result.Implicit) return; // the default value
            T value;
            try { value = result.GetValueOrDefault<T>(); }
            catch (InvalidOperationException) { return; } // not a number at all: the parser reports that itself
            if (!valid(value))
                result.AddError($"{option.Name} must be {expected} (got {string.Format(CultureInfo.InvariantCulture, "{0}", value)})");
        });
        return option;
    }
}
