using System.Text;

namespace Tessera.Text.Templates;

/// <summary>Jinja2's <c>loop</c> variable inside a for loop.</summary>
internal sealed class LoopInfo(List<object?> items)
{
    public int Index0 { get; set; }
    public List<object?> Items { get; } = items;

    public object? Get(string name) => name switch
    {
        "index0" => (long)Index0,
        "index" => (long)Index0 + 1,
        "revindex" => (long)(Items.Count - Index0),
        "revindex0" => (long)(Items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Items.Count - 1,
        "length" => (long)Items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? Items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 < Items.Count - 1 ? Items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => new Callable("loop.cycle", (_, args, _) => args.Count == 0 ? throw new TemplateRuntimeError("loop.cycle needs at least one item") : args[Index0 % args.Count]),
        "changed" => throw new TemplateRuntimeError("loop.changed is not supported"),
        _ => new Undefined($"the loop has no attribute '{name}'"),
    };
}

/// <summary>Variables of one scope; lookups fall back to the enclosing scope.</summary>
internal sealed class Scope(Scope? parent)
{
    readonly Dictionary<string, object?> vars = [];
    readonly Scope? parent = parent;

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s is not null; s = s.parent)
            if (s.vars.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public void Set(string name, object? value) => vars[name] = value;
}

/// <summary>Runs a parsed template: statements write to the output, expressions evaluate with Python's semantics.</summary>
internal sealed class Interpreter
{
    enum Flow { Normal, Break, Continue }

    readonly TemplateOptions options;
    StringBuilder output = new();
    long steps;
    int callDepth;

    public Interpreter(TemplateOptions options) => this.options = options;

    public TemplateOptions Options => options;

    /// <summary>The line of the statement or expression being run (for error messages).</summary>
    public int Line { get; private set; }

    public string Render(IReadOnlyList<Stmt> body, Scope globals)
    {
        Run(body, new Scope(globals));
        return output.ToString();
    }

    void Step(int line)
    {
        Line = line;
        if (++steps > options.MaxSteps) throw new TemplateRuntimeError($"rendering took more than {options.MaxSteps} steps (TemplateOptions.MaxSteps); the template loops too long");
    }

    public string Checked(string s)
    {
        if (s.Length > options.MaxOutputLength) throw new TemplateRuntimeError($"a string grew beyond {options.MaxOutputLength} characters (TemplateOptions.MaxOutputLength)");
        return s;
    }

    public List<object?> Checked(List<object?> list)
    {
        if (list.Count > options.MaxOutputLength) throw new TemplateRuntimeError($"a list grew beyond {options.MaxOutputLength} items (TemplateOptions.MaxOutputLength)");
        return list;
    }

    void Write(string s)
    {
        if (output.Length + s.Length > options.MaxOutputLength)
            throw new TemplateRuntimeError($"the output grew beyond {options.MaxOutputLength} characters (TemplateOptions.MaxOutputLength)");
        output.Append(s);
    }

    Flow Run(IReadOnlyList<Stmt> body, Scope scope)
    {
        foreach (var stmt in body)
        {
            var flow = Execute(stmt, scope);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    Flow Execute(Stmt stmt, Scope scope)
    {
        Step(stmt.Line);
        switch (stmt)
        {
            case TextStmt t:
                Write(t.Text);
                return Flow.Normal;
            case PrintStmt p:
            {
                var value = Eval(p.Value, scope);
                Line = p.Line;
                Write(Values.Str(value));
                return Flow.Normal;
            }
            case IfStmt i:
                return Values.Truthy(Eval(i.Test, scope)) ? Run(i.Body, scope) : Run(i.Else, scope);
            case ForStmt f:
                return For(f, scope);
            case SetStmt s:
                Assign(s.Line, s.Targets, s.Attribute, Eval(s.Value, scope), scope);
                return Flow.Normal;
            case SetBlockStmt s:
            {
                object? text = Capture(s.Body, scope);
                foreach (var filter in s.Filters) text = ApplyFilter(filter, text, scope);
                Assign(s.Line, [s.Target], s.Attribute, text, scope);
                return Flow.Normal;
            }
            case FilterBlockStmt f:
            {
                object? text = Capture(f.Body, scope);
                foreach (var filter in f.Filters) text = ApplyFilter(filter, text, scope);
                Write(Values.Str(text));
                return Flow.Normal;
            }
            case ScopeStmt w:
            {
                var inner = new Scope(scope);
                foreach (var (name, value) in w.Assignments) inner.Set(name, Eval(value, scope));
                return Run(w.Body, inner);
            }
            case MacroStmt m:
                scope.Set(m.Name, Macro(m, scope));
                return Flow.Normal;
            case BreakStmt:
                return Flow.Break;
            case ContinueStmt:
                return Flow.Continue;
            default:
                throw new TemplateRuntimeError($"unknown statement {stmt.GetType().Name}");
        }
    }

    string Capture(IReadOnlyList<Stmt> body, Scope scope)
    {
        var saved = output;
        output = new StringBuilder();
        try
        {
            Run(body, new Scope(scope));
            return output.ToString();
        }
        finally
        {
            output = saved;
        }
    }

    Flow For(ForStmt f, Scope scope)
    {
        var source = Eval(f.Iterable, scope);
        if (source is Dictionary<object, object?> || source is string || source is List<object?> || source is object?[] || source is Undefined) { }
        else throw new TemplateRuntimeError($"'{Values.TypeName(source)}' object is not iterable");
        var items = Values.Iterate(source);
        if (f.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (var item in items.ToList())
            {
                var probe = new Scope(scope);
                Bind(f.Line, f.Targets, item, probe);
                if (Values.Truthy(Eval(f.Filter, probe))) kept.Add(item);
            }
            items = kept;
        }
        else items = [.. items];
        if (items.Count == 0) return Run(f.Else, new Scope(scope));
        var loop = new LoopInfo(items);
        for (int i = 0; i < items.Count; i++)
        {
            Step(f.Line);
            loop.Index0 = i;
            var inner = new Scope(scope);
            inner.Set("loop", loop);
            Bind(f.Line, f.Targets, items[i], inner);
            if (Run(f.Body, inner) == Flow.Break) break;
        }
        return Flow.Normal;
    }

    void Bind(int line, IReadOnlyList<string> targets, object? value, Scope scope)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], value);
            return;
        }
        var parts = value is string || value is List<object?> || value is object?[] || value is Dictionary<object, object?> ? Values.Iterate(value) : null;
        if (parts is null || parts.Count != targets.Count)
            throw new TemplateRuntimeError(parts is null ? $"cannot unpack '{Values.TypeName(value)}' into {targets.Count} names" : $"expected {targets.Count} values to unpack, got {parts.Count}");
        for (int i = 0; i < targets.Count; i++) scope.Set(targets[i], parts[i]);
    }

    void Assign(int line, IReadOnlyList<string> targets, string? attribute, object? value, Scope scope)
    {
        if (attribute is null)
        {
            Bind(line, targets, value, scope);
            return;
        }
        if (!scope.TryGet(targets[0], out var target) || target is not Namespace ns)
            throw new TemplateRuntimeError($"cannot assign attribute '{attribute}' on '{targets[0]}': it is not a namespace (set attributes only on namespace() objects)");
        ns.Attributes[attribute] = value;
    }

    Callable Macro(MacroStmt m, Scope defining) => new(m.Name, (interp, args, kwargs) =>
    {
        if (args.Count > m.Parameters.Count) throw new TemplateRuntimeError($"macro '{m.Name}' takes not more than {m.Parameters.Count} argument(s)");
        var scope = new Scope(defining);
        for (int i = 0; i < m.Parameters.Count; i++)
        {
            string name = m.Parameters[i];
            if (i < args.Count) scope.Set(name, args[i]);
            else if (kwargs.Remove(name, out var v)) scope.Set(name, v);
            else scope.Set(name, m.Defaults[i] is Expr d ? interp.Eval(d, scope) : new Undefined($"parameter '{name}' was not provided"));
        }
        if (kwargs.Count > 0) throw new TemplateRuntimeError($"macro '{m.Name}' takes no keyword argument '{kwargs.Keys.First()}'");
        if (++interp.callDepth > interp.options.MaxDepth) throw new TemplateRuntimeError($"macro calls nest deeper than {interp.options.MaxDepth} levels (TemplateOptions.MaxDepth)");
        try
        {
            return interp.Capture(m.Body, scope);
        }
        finally
        {
            interp.callDepth--;
        }
    });

    public object? Eval(Expr expr, Scope scope)
    {
        Step(expr.Line);
        switch (expr)
        {
            case ConstExpr c: return c.Value;
            case NameExpr n: return scope.TryGet(n.Name, out var v) ? v : new Undefined($"'{n.Name}' is undefined");
            case ListExpr l: return l.Items.Select(i => Eval(i, scope)).ToList();
            case TupleExpr t: return t.Items.Select(i => Eval(i, scope)).ToArray();
            case DictExpr d:
            {
                var result = new Dictionary<object, object?>();
                foreach (var (k, val) in d.Items)
                {
                    var key = Eval(k, scope);
                    result[Key(key)] = Eval(val, scope);
                }
                return result;
            }
            case AttrExpr a: return GetAttr(Eval(a.Target, scope), a.Name);
            case ItemExpr i: return GetItem(Eval(i.Target, scope), Eval(i.Key, scope));
            case SliceExpr s:
                return Slice(Eval(s.Target, scope), s.Start is null ? null : Eval(s.Start, scope), s.Stop is null ? null : Eval(s.Stop, scope), s.Step is null ? null : Eval(s.Step, scope));
            case CallExpr c:
            {
                var target = Eval(c.Target, scope);
                var args = c.Args.Select(x => Eval(x, scope)).ToList();
                var kwargs = c.Kwargs.ToDictionary(k => k.Name, k => Eval(k.Value, scope));
                Line = c.Line;
                return Call(target, args, kwargs);
            }
            case FilterExpr f: return ApplyFilter(f, Eval(f.Target!, scope), scope);
            case TestExpr t:
            {
                var value = Eval(t.Target, scope);
                var args = t.Args.Select(x => Eval(x, scope)).ToList();
                Line = t.Line;
                bool result = Builtins.Test(this, t.Name, value, args);
                return t.Negated ? !result : result;
            }
            case UnaryExpr u:
            {
                var value = Eval(u.Operand, scope);
                return u.Op switch
                {
                    "not" => !Values.Truthy(value),
                    "-" => value switch
                    {
                        long l => l == long.MinValue ? throw new TemplateRuntimeError("integer overflow") : (object)(-l),
                        double d => (object)(-d),
                        bool b => b ? -1L : 0L,
                        _ => throw new TemplateRuntimeError($"bad operand type for unary -: '{Values.TypeName(value)}'"),
                    },
                    _ => Values.IsNumber(value) ? (value is bool b2 ? (b2 ? 1L : 0L) : value) : throw new TemplateRuntimeError($"bad operand type for unary +: '{Values.TypeName(value)}'"),
                };
            }
            case BinaryExpr b:
                if (b.Op == "and")
                {
                    var left = Eval(b.Left, scope);
                    return Values.Truthy(left) ? Eval(b.Right, scope) : left;
                }
                if (b.Op == "or")
                {
                    var left = Eval(b.Left, scope);
                    return Values.Truthy(left) ? left : Eval(b.Right, scope);
                }
                {
                    var left = Eval(b.Left, scope);
                    var right = Eval(b.Right, scope);
                    Line = b.Line;
                    return Arithmetic.Binary(this, b.Op, left, right);
                }
            case CompareExpr c:
            {
                var left = Eval(c.First, scope);
                foreach (var (op, rightExpr) in c.Rest)
                {
                    var right = Eval(rightExpr, scope);
                    Line = c.Line;
                    bool ok = op switch
                    {
                        "==" => Values.PyEquals(left, right),
                        "!=" => !Values.PyEquals(left, right),
                        "<" => Values.Compare(left, right, op) < 0,
                        "<=" => Values.Compare(left, right, op) <= 0,
                        ">" => Values.Compare(left, right, op) > 0,
                        ">=" => Values.Compare(left, right, op) >= 0,
                        "in" => Arithmetic.Contains(right, left),
                        _ => !Arithmetic.Contains(right, left),
                    };
                    if (!ok) return false;
                    left = right;
                }
                return true;
            }
            case CondExpr c:
                return Values.Truthy(Eval(c.Test, scope)) ? Eval(c.Then, scope)
                    : c.Else is null ? new Undefined("the condition was false and there is no else") : Eval(c.Else, scope);
            case ConcatExpr c:
            {
                var b = new StringBuilder();
                foreach (var part in c.Parts)
                {
                    b.Append(Values.Str(Eval(part, scope)));
                    if (b.Length > options.MaxOutputLength) Checked(b.ToString());
                }
                return b.ToString();
            }
            default:
                throw new TemplateRuntimeError($"unknown expression {expr.GetType().Name}");
        }
    }

    static object Key(object? key) => key switch
    {
        null => throw new TemplateRuntimeError("None as a dict key is not supported"),
        List<object?> or Dictionary<object, object?> => throw new TemplateRuntimeError($"unhashable type: '{Values.TypeName(key)}'"),
        bool b => b ? 1L : 0L,
        double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => (long)d,
        _ => key,
    };

    object? ApplyFilter(FilterExpr f, object? value, Scope scope)
    {
        var args = f.Args.Select(x => Eval(x, scope)).ToList();
        var kwargs = f.Kwargs.ToDictionary(k => k.Name, k => Eval(k.Value, scope));
        Line = f.Line;
        return Builtins.Filter(this, f.Name, value, args, kwargs);
    }

    public object? Call(object? target, List<object?> args, Dictionary<string, object?> kwargs) => target switch
    {
        Callable c => c.Invoke(this, args, kwargs),
        Undefined u => throw new TemplateRuntimeError(u.Hint),
        _ => throw new TemplateRuntimeError($"'{Values.TypeName(target)}' object is not callable"),
    };

    /// <summary>Jinja2's <c>x.name</c>: the attribute (methods, namespace and loop attributes), else the item.</summary>
    public object? GetAttr(object? target, string name)
    {
        switch (target)
        {
            case Undefined u: throw new TemplateRuntimeError(u.Hint);
            case Namespace ns: return ns.Attributes.TryGetValue(name, out var v) ? v : new Undefined($"'Namespace' object has no attribute '{name}'");
            case LoopInfo loop: return loop.Get(name);
        }
        return Methods.Get(target, name) ?? Item(target, name, attribute: true);
    }

    /// <summary>Jinja2's <c>x[key]</c>: the item, else (for string keys) the attribute.</summary>
    public object? GetItem(object? target, object? key)
    {
        if (target is Undefined u) throw new TemplateRuntimeError(u.Hint);
        var item = Item(target, key, attribute: false);
        if (item is Undefined && key is string name)
        {
            if (target is Namespace ns && ns.Attributes.TryGetValue(name, out var v)) return v;
            if (target is LoopInfo loop) return loop.Get(name);
            return Methods.Get(target, name) ?? item;
        }
        return item;
    }

    static object? Item(object? target, object? key, bool attribute)
    {
        string Missing() => $"'{Values.TypeName(target)} object' has no {(attribute ? "attribute" : "item")} {(key is string s ? "'" + s + "'" : Values.Repr(key))}";
        switch (target)
        {
            case Dictionary<object, object?> d:
                return key is not null && d.TryGetValue(Key(key), out var v) ? v : new Undefined(Missing());
            case List<object?> or object?[] when key is long or bool:
            {
                var list = (System.Collections.IList)target;
                long i = Values.ToLong(key);
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : new Undefined(Missing());
            }
            case string s when key is long or bool:
            {
                long i = Values.ToLong(key);
                if (Values.HasSurrogates(s))
                {
                    var points = Values.CodePoints(s);
                    if (i < 0) i += points.Length;
                    return i >= 0 && i < points.Length ? char.ConvertFromUtf32(points[i]) : new Undefined(Missing());
                }
                if (i < 0) i += s.Length;
                return i >= 0 && i < s.Length ? s[(int)i].ToString() : new Undefined(Missing());
            }
            default:
                return new Undefined(Missing());
        }
    }

    object? Slice(object? target, object? start, object? stop, object? step)
    {
        long? Index(object? v, string what) => v switch
        {
            null => null,
            long or bool => Values.ToLong(v),
            _ => throw new TemplateRuntimeError($"slice {what} must be an integer or None, not '{Values.TypeName(v)}'"),
        };
        long? a = Index(start, "start"), b = Index(stop, "stop"), c = Index(step, "step");
        if (c == 0) throw new TemplateRuntimeError("slice step cannot be zero");
        if (target is Undefined u) throw new TemplateRuntimeError(u.Hint);
        if (target is string s)
        {
            if (!Values.HasSurrogates(s)) return string.Concat(SliceIndices(s.Length, a, b, c).Select(i => s[i]));
            var points = Values.CodePoints(s);
            return Values.FromCodePoints(SliceIndices(points.Length, a, b, c).Select(i => points[i]));
        }
        if (target is List<object?> list) return SliceIndices(list.Count, a, b, c).Select(i => list[i]).ToList();
        if (target is object?[] tuple) return SliceIndices(tuple.Length, a, b, c).Select(i => tuple[i]).ToArray();
        throw new TemplateRuntimeError($"'{Values.TypeName(target)}' object is not subscriptable");
    }

    /// <summary>Python's slice.indices: the positions <c>[start:stop:step]</c> selects from a sequence of <paramref name="length"/>.</summary>
    static IEnumerable<int> SliceIndices(int length, long? start, long? stop, long? step)
    {
        long st = step ?? 1;
        long lo, hi;
        if (st > 0)
        {
            lo = start is long s0 ? (s0 < 0 ? Math.Max(0, s0 + length) : Math.Min(s0, length)) : 0;
            hi = stop is long e0 ? (e0 < 0 ? Math.Max(0, e0 + length) : Math.Min(e0, length)) : length;
            for (long i = lo; i < hi; i += st) yield return (int)i;
        }
        else
        {
            lo = start is long s1 ? (s1 < 0 ? Math.Max(-1, s1 + length) : Math.Min(s1, length - 1)) : length - 1;
            hi = stop is long e1 ? (e1 < 0 ? Math.Max(-1, e1 + length) : Math.Min(e1, length - 1)) : -1;
            for (long i = lo; i > hi; i += st) yield return (int)i;
        }
    }
}
