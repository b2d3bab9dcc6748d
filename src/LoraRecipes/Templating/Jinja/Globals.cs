using System.Globalization;
using System.Text;

namespace LoraRecipes.Templating.Jinja;

/// <summary>
/// The functions every render sees, as transformers provides them: <c>raise_exception(msg)</c>,
/// <c>strftime_now(format)</c>, <c>range(...)</c>, <c>namespace(...)</c>, <c>dict(...)</c>.
/// </summary>
internal static class Globals
{
    public static void AddTo(Scope scope, JinjaLimits limits, Func<DateTime> now)
    {
        scope.Set("raise_exception", new Callable((a, _) => throw new TemplateRaise(a.Count > 0 ? Values.Str(a[0]) : "raise_exception called")));
        scope.Set("strftime_now", new Callable((a, _) => Strftime(a.Count > 0 ? Values.Str(a[0]) : "", now())));
        scope.Set("range", new Callable((a, _) => Range(a, limits)));
        scope.Set("namespace", new Callable((a, kw) =>
        {
            var ns = new Namespace();
            foreach (object? initial in a)
            {
                if (initial is not Dictionary<string, object?> d) throw new InvalidOperationException("namespace() takes keyword arguments or a mapping");
                foreach ((string k, object? v) in d) ns.Attributes[k] = v;
            }
            foreach ((string k, object? v) in kw) ns.Attributes[k] = v;
            return ns;
        }));
        scope.Set("dict", new Callable((_, kw) => new Dictionary<string, object?>(kw, StringComparer.Ordinal)));
    }

    private static List<object?> Range(List<object?> a, JinjaLimits limits)
    {
        long Int(int i) => a[i] is long n ? n : throw new InvalidOperationException($"range() takes integers, not {Values.TypeName(a[i])}");
        (long start, long stop, long step) = a.Count switch
        {
            1 => (0L, Int(0), 1L),
            2 => (Int(0), Int(1), 1L),
            3 => (Int(0), Int(1), Int(2)),
            _ => throw new InvalidOperationException("range() takes 1 to 3 arguments"),
        };
        if (step == 0) throw new InvalidOperationException("range() step must not be zero");
        long count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0, (start - stop - step - 1) / -step);
        if (count > limits.MaxLoopIterations) throw new InvalidOperationException($"range() of {count} items exceeds the limit of {limits.MaxLoopIterations}");
        var list = new List<object?>((int)count);
        for (long i = 0; i < count; i++) list.Add(start + i * step);
        return list;
    }

    /// <summary>Python's strftime for the codes chat templates use (%d %b %Y %B %m %y %H %M %S %I %p %a %A %j %%).</summary>
    public static string Strftime(string format, DateTime t)
    {
        var sb = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { sb.Append(format[i]); continue; }
            char code = format[++i];
            sb.Append(code switch
            {
                'd' => t.ToString("dd", c),
                'e' => t.Day.ToString(c).PadLeft(2),
                'b' => t.ToString("MMM", c),
                'B' => t.ToString("MMMM", c),
                'm' => t.ToString("MM", c),
                'Y' => t.ToString("yyyy", c),
                'y' => t.ToString("yy", c),
                'H' => t.ToString("HH", c),
                'I' => t.ToString("hh", c),
                'M' => t.ToString("mm", c),
                'S' => t.ToString("ss", c),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'a' => t.ToString("ddd", c),
                'A' => t.ToString("dddd", c),
                'j' => t.DayOfYear.ToString("000", c),
                '%' => "%",
                _ => "%" + code,
            });
        }
        return sb.ToString();
    }
}
