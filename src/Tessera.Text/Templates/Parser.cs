using System.Globalization;

namespace Tessera.Text.Templates;

/// <summary>
/// Parses Jinja2's tokens into statements and expressions with Jinja2's grammar and operator precedence
/// (condition, or, and, not, comparisons, + -, ~, * / // %, **, unary, filters and tests, postfix).
/// </summary>
internal sealed class Parser
{
    readonly List<Token> tokens;
    readonly Func<int, string, TemplateException> error;
    readonly int maxDepth;
    readonly Dictionary<Expr, int> depths = new(ReferenceEqualityComparer.Instance);
    int pos;
    int blockDepth;

    public Parser(List<Token> tokens, int maxDepth, Func<int, string, TemplateException> error)
    {
        this.tokens = tokens;
        this.maxDepth = maxDepth;
        this.error = error;
    }

    Token Current => tokens[pos];

    Token Peek(int ahead = 1) => tokens[Math.Min(pos + ahead, tokens.Count - 1)];

    Token Next() => tokens[pos < tokens.Count - 1 ? pos++ : pos];

    bool SkipOp(string op)
    {
        if (!Current.IsOp(op)) return false;
        pos++;
        return true;
    }

    bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        pos++;
        return true;
    }

    void ExpectOp(string op)
    {
        if (!SkipOp(op)) throw error(Current.Line, $"expected '{op}', got {Current}");
    }

    string ExpectName()
    {
        if (Current.Kind != TokenKind.Name) throw error(Current.Line, $"expected a name, got {Current}");
        return Next().Value;
    }

    void ExpectBlockEnd()
    {
        if (Current.Kind != TokenKind.BlockEnd) throw error(Current.Line, $"expected the end of the statement ('%}}'), got {Current}");
        pos++;
    }

    T N<T>(T node, params Expr?[] children) where T : Expr
    {
        int d = 0;
        foreach (var c in children) if (c is not null && depths.TryGetValue(c, out int cd) && cd > d) d = cd;
        if (d + 1 > maxDepth) throw error(node.Line, $"expressions nest deeper than {maxDepth} levels");
        depths[node] = d + 1;
        return node;
    }

    public List<Stmt> ParseTemplate()
    {
        var body = Subparse([]);
        if (Current.Kind != TokenKind.End) throw error(Current.Line, $"unexpected {Current}");
        return body;
    }

    /// <summary>Statements up to a block tag whose first name is in <paramref name="endTags"/> (left unconsumed: the cursor stays on that name).</summary>
    List<Stmt> Subparse(string[] endTags)
    {
        if (++blockDepth > maxDepth) throw error(Current.Line, $"blocks nest deeper than {maxDepth} levels");
        var body = new List<Stmt>();
        while (true)
        {
            var t = Current;
            switch (t.Kind)
            {
                case TokenKind.End:
                    if (endTags.Length > 0) throw error(t.Line, $"unexpected end of template; expected {string.Join(" or ", endTags.Select(e => $"'{{% {e} %}}'"))}");
                    blockDepth--;
                    return body;
                case TokenKind.Data:
                    body.Add(new TextStmt(t.Line, t.Value));
                    pos++;
                    break;
                case TokenKind.VariableBegin:
                    pos++;
                    var value = ParseTuple(withCondition: true);
                    if (Current.Kind != TokenKind.VariableEnd) throw error(Current.Line, $"expected '}}}}', got {Current}");
                    pos++;
                    body.Add(new PrintStmt(t.Line, value));
                    break;
                case TokenKind.BlockBegin:
                    pos++;
                    if (Current.Kind == TokenKind.Name && endTags.Contains(Current.Value))
                    {
                        blockDepth--;
                        return body;
                    }
                    body.Add(ParseStatement());
                    break;
                default:
                    throw error(t.Line, $"unexpected {t}");
            }
        }
    }

    Stmt ParseStatement()
    {
        var t = Current;
        if (t.Kind != TokenKind.Name) throw error(t.Line, $"expected a statement name after '{{%', got {t}");
        pos++;
        switch (t.Value)
        {
            case "for": return ParseFor(t.Line);
            case "if": return ParseIf(t.Line);
            case "set": return ParseSet(t.Line);
            case "macro": return ParseMacro(t.Line);
            case "filter": return ParseFilterBlock(t.Line);
            case "with": return ParseWith(t.Line);
            case "break":
                ExpectBlockEnd();
                return new BreakStmt(t.Line);
            case "continue":
                ExpectBlockEnd();
                return new ContinueStmt(t.Line);
            case "generation":
                // transformers' {% generation %} marks assistant text for training masks; it renders its body unchanged.
                ExpectBlockEnd();
                var body = Subparse(["endgeneration"]);
                pos++;
                ExpectBlockEnd();
                return new ScopeStmt(t.Line, [], body);
            default:
                throw error(t.Line, $"unknown or unsupported tag '{t.Value}' (chat templates may use for, if, set, macro, filter, with, break, continue, generation, raw)");
        }
    }

    Stmt ParseFor(int line)
    {
        var targets = new List<string> { ExpectName() };
        while (SkipOp(",")) targets.Add(ExpectName());
        if (!SkipName("in")) throw error(Current.Line, $"expected 'in' in the for loop, got {Current}");
        var iterable = ParseTuple(withCondition: false, extraEnd: "recursive");
        if (Current.IsName("recursive")) throw error(Current.Line, "recursive for loops are not supported");
        Expr? filter = SkipName("if") ? ParseExpression() : null;
        ExpectBlockEnd();
        var body = Subparse(["endfor", "else"]);
        IReadOnlyList<Stmt> otherwise = [];
        if (Next().Value == "else")
        {
            ExpectBlockEnd();
            otherwise = Subparse(["endfor"]);
            pos++;
        }
        ExpectBlockEnd();
        return new ForStmt(line, targets, iterable, filter, body, otherwise);
    }

    Stmt ParseIf(int line)
    {
        var test = ParseTuple(withCondition: false);
        ExpectBlockEnd();
        var body = Subparse(["elif", "else", "endif"]);
        var token = Next();
        IReadOnlyList<Stmt> otherwise = [];
        if (token.Value == "elif") otherwise = [ParseIf(token.Line)];
        else
        {
            if (token.Value == "else")
            {
                ExpectBlockEnd();
                otherwise = Subparse(["endif"]);
                pos++;
            }
            ExpectBlockEnd();
        }
        return new IfStmt(line, test, body, otherwise);
    }

    Stmt ParseSet(int line)
    {
        var first = ExpectName();
        string? attribute = null;
        if (SkipOp(".")) attribute = ExpectName();
        var targets = new List<string> { first };
        if (attribute is null) while (SkipOp(",")) targets.Add(ExpectName());
        if (SkipOp("="))
        {
            var value = ParseTuple(withCondition: true);
            ExpectBlockEnd();
            return new SetStmt(line, targets, attribute, value);
        }
        if (targets.Count > 1) throw error(Current.Line, $"expected '=' after the names to set, got {Current}");
        var filters = new List<FilterExpr>();
        while (SkipOp("|")) filters.Add(ParseFilterCall(null));
        ExpectBlockEnd();
        var body = Subparse(["endset"]);
        pos++;
        ExpectBlockEnd();
        return new SetBlockStmt(line, first, attribute, body, filters);
    }

    Stmt ParseMacro(int line)
    {
        string name = ExpectName();
        ExpectOp("(");
        var parameters = new List<string>();
        var defaults = new List<Expr?>();
        while (!SkipOp(")"))
        {
            if (parameters.Count > 0) ExpectOp(",");
            if (SkipOp(")")) break;
            parameters.Add(ExpectName());
            defaults.Add(SkipOp("=") ? ParseExpression() : null);
        }
        ExpectBlockEnd();
        var body = Subparse(["endmacro"]);
        pos++;
        if (Current.Kind == TokenKind.Name) pos++; // {% endmacro name %}
        ExpectBlockEnd();
        return new MacroStmt(line, name, parameters, defaults, body);
    }

    Stmt ParseFilterBlock(int line)
    {
        var filters = new List<FilterExpr> { ParseFilterCall(null) };
        while (SkipOp("|")) filters.Add(ParseFilterCall(null));
        ExpectBlockEnd();
        var body = Subparse(["endfilter"]);
        pos++;
        ExpectBlockEnd();
        return new FilterBlockStmt(line, filters, body);
    }

    Stmt ParseWith(int line)
    {
        var assignments = new List<(string, Expr)>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (assignments.Count > 0) ExpectOp(",");
            string name = ExpectName();
            ExpectOp("=");
            assignments.Add((name, ParseExpression()));
        }
        ExpectBlockEnd();
        var body = Subparse(["endwith"]);
        pos++;
        ExpectBlockEnd();
        return new ScopeStmt(line, assignments, body);
    }

    /// <summary>One expression, or several separated by commas as a tuple.</summary>
    Expr ParseTuple(bool withCondition, string? extraEnd = null, bool explicitParens = false)
    {
        int line = Current.Line;
        var items = new List<Expr>();
        bool comma = false;
        while (true)
        {
            if (items.Count > 0)
            {
                if (!SkipOp(",")) break;
                comma = true;
            }
            if (Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.End || Current.IsOp(")") || (extraEnd is not null && Current.IsName(extraEnd)))
            {
                if (items.Count == 0 && !explicitParens) throw error(Current.Line, $"expected an expression, got {Current}");
                break;
            }
            items.Add(withCondition ? ParseExpression() : ParseOr());
        }
        if (!comma && items.Count == 1) return items[0];
        return N(new TupleExpr(line, items), [.. items]);
    }

    Expr ParseExpression()
    {
        var expr = ParseOr();
        while (Current.IsName("if"))
        {
            int line = Next().Line;
            var test = ParseOr();
            Expr? otherwise = SkipName("else") ? ParseExpression() : null;
            expr = N(new CondExpr(line, test, expr, otherwise), test, expr, otherwise);
        }
        return expr;
    }

    Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            int line = Next().Line;
            var right = ParseAnd();
            left = N(new BinaryExpr(line, "or", left, right), left, right);
        }
        return left;
    }

    Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            int line = Next().Line;
            var right = ParseNot();
            left = N(new BinaryExpr(line, "and", left, right), left, right);
        }
        return left;
    }

    Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            int line = Next().Line;
            Enter(line);
            var operand = ParseNot();
            blockDepth--;
            return N(new UnaryExpr(line, "not", operand), operand);
        }
        return ParseCompare();
    }

    void Enter(int line)
    {
        if (++blockDepth > maxDepth) throw error(line, $"expressions nest deeper than {maxDepth} levels");
    }

    Expr ParseCompare()
    {
        int line = Current.Line;
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            string? op = Current.Kind == TokenKind.Operator && Current.Value is "==" or "!=" or "<" or "<=" or ">" or ">=" ? Current.Value : null;
            if (op is not null) pos++;
            else if (Current.IsName("in")) { pos++; op = "in"; }
            else if (Current.IsName("not") && Peek().IsName("in")) { pos += 2; op = "not in"; }
            else break;
            rest.Add((op, ParseMath1()));
        }
        return rest.Count == 0 ? first : N(new CompareExpr(line, first, rest), [first, .. rest.Select(r => r.Item2)]);
    }

    Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.Kind == TokenKind.Operator && Current.Value is "+" or "-")
        {
            var op = Next();
            var right = ParseConcat();
            left = N(new BinaryExpr(op.Line, op.Value, left, right), left, right);
        }
        return left;
    }

    Expr ParseConcat()
    {
        int line = Current.Line;
        var parts = new List<Expr> { ParseMath2() };
        while (SkipOp("~")) parts.Add(ParseMath2());
        return parts.Count == 1 ? parts[0] : N(new ConcatExpr(line, parts), [.. parts]);
    }

    Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var op = Next();
            var right = ParsePow();
            left = N(new BinaryExpr(op.Line, op.Value, left, right), left, right);
        }
        return left;
    }

    Expr ParsePow()
    {
        var left = ParseUnary(withFilter: true);
        while (Current.IsOp("**"))
        {
            var op = Next();
            var right = ParseUnary(withFilter: true);
            left = N(new BinaryExpr(op.Line, "**", left, right), left, right);
        }
        return left;
    }

    Expr ParseUnary(bool withFilter)
    {
        Expr node;
        if (Current.IsOp("-") || Current.IsOp("+"))
        {
            var op = Next();
            Enter(op.Line);
            var operand = ParseUnary(withFilter: false);
            blockDepth--;
            node = N(new UnaryExpr(op.Line, op.Value, operand), operand);
        }
        else node = ParsePrimary();
        node = ParsePostfix(node);
        return withFilter ? ParseFilterExpr(node) : node;
    }

    Expr ParsePrimary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => N(new ConstExpr(t.Line, true)),
                    "false" or "False" => N(new ConstExpr(t.Line, false)),
                    "none" or "None" => N(new ConstExpr(t.Line, null)),
                    _ => N(new NameExpr(t.Line, t.Value)),
                };
            case TokenKind.String:
                string s = t.Value;
                while (Current.Kind == TokenKind.String) s += Next().Value;
                return N(new ConstExpr(t.Line, s));
            case TokenKind.Integer:
                if (!long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long l)) throw error(t.Line, $"integer {t.Value} is too large");
                return N(new ConstExpr(t.Line, l));
            case TokenKind.Float:
                return N(new ConstExpr(t.Line, double.Parse(t.Value, NumberStyles.Float, CultureInfo.InvariantCulture)));
            case TokenKind.Operator when t.Value == "(":
            {
                Enter(t.Line);
                var inner = ParseTuple(withCondition: true, explicitParens: true);
                blockDepth--;
                ExpectOp(")");
                return inner;
            }
            case TokenKind.Operator when t.Value == "[":
            {
                Enter(t.Line);
                var items = new List<Expr>();
                while (!SkipOp("]"))
                {
                    if (items.Count > 0) ExpectOp(",");
                    if (SkipOp("]")) break;
                    items.Add(ParseExpression());
                }
                blockDepth--;
                return N(new ListExpr(t.Line, items), [.. items]);
            }
            case TokenKind.Operator when t.Value == "{":
            {
                Enter(t.Line);
                var items = new List<(Expr, Expr)>();
                while (!SkipOp("}"))
                {
                    if (items.Count > 0) ExpectOp(",");
                    if (SkipOp("}")) break;
                    var key = ParseExpression();
                    ExpectOp(":");
                    items.Add((key, ParseExpression()));
                }
                blockDepth--;
                return N(new DictExpr(t.Line, items), [.. items.SelectMany(i => new[] { i.Item1, i.Item2 })]);
            }
            default:
                throw error(t.Line, $"unexpected {t}");
        }
    }

    Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var t = Current;
            if (t.IsOp("."))
            {
                pos++;
                var name = Next();
                if (name.Kind == TokenKind.Name) node = N(new AttrExpr(t.Line, node, name.Value), node);
                else if (name.Kind == TokenKind.Integer) node = N(new ItemExpr(t.Line, node, N(new ConstExpr(t.Line, long.Parse(name.Value, CultureInfo.InvariantCulture)))), node);
                else throw error(t.Line, $"expected an attribute name after '.', got {name}");
            }
            else if (t.IsOp("["))
            {
                pos++;
                Enter(t.Line);
                node = ParseSubscript(t.Line, node);
                blockDepth--;
                ExpectOp("]");
            }
            else if (t.IsOp("(")) node = ParseCall(node);
            else return node;
        }
    }

    Expr ParseSubscript(int line, Expr target)
    {
        Expr? start = null;
        if (!Current.IsOp(":"))
        {
            start = ParseExpression();
            if (!Current.IsOp(":")) return N(new ItemExpr(line, target, start), target, start);
        }
        pos++;
        Expr? stop = Current.IsOp("]") || Current.IsOp(":") ? null : ParseExpression();
        Expr? step = null;
        if (SkipOp(":") && !Current.IsOp("]")) step = ParseExpression();
        return N(new SliceExpr(line, target, start, stop, step), target, start, stop, step);
    }

    (List<Expr> Args, List<(string, Expr)> Kwargs) ParseArgs()
    {
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        int line = Current.Line;
        ExpectOp("(");
        Enter(line);
        while (!SkipOp(")"))
        {
            if (args.Count + kwargs.Count > 0) ExpectOp(",");
            if (SkipOp(")")) break;
            if (Current.IsOp("*") || Current.IsOp("**")) throw error(Current.Line, "*args and **kwargs in calls are not supported");
            if (Current.Kind == TokenKind.Name && Peek().IsOp("="))
            {
                string name = Next().Value;
                pos++;
                kwargs.Add((name, ParseExpression()));
            }
            else
            {
                if (kwargs.Count > 0) throw error(Current.Line, "a positional argument follows a keyword argument");
                args.Add(ParseExpression());
            }
        }
        blockDepth--;
        return (args, kwargs);
    }

    Expr ParseCall(Expr target)
    {
        int line = Current.Line;
        var (args, kwargs) = ParseArgs();
        return N(new CallExpr(line, target, args, kwargs), [target, .. args, .. kwargs.Select(k => k.Item2)]);
    }

    FilterExpr ParseFilterCall(Expr? target)
    {
        int line = Current.Line;
        string name = ExpectName();
        while (SkipOp(".")) name += "." + ExpectName();
        if (!Builtins.HasFilter(name)) throw error(line, $"no filter named '{name}'");
        var (args, kwargs) = Current.IsOp("(") ? ParseArgs() : ([], []);
        return N(new FilterExpr(line, target, name, args, kwargs), [target, .. args, .. kwargs.Select(k => k.Item2)]);
    }

    Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (SkipOp("|")) node = ParseFilterCall(node);
            else if (Current.IsName("is")) node = ParseTest(node);
            else if (Current.IsOp("(")) node = ParseCall(node);
            else return node;
        }
    }

    Expr ParseTest(Expr node)
    {
        int line = Next().Line;
        bool negated = SkipName("not");
        string name = ExpectName();
        while (SkipOp(".")) name += "." + ExpectName();
        if (!Builtins.HasTest(name)) throw error(line, $"no test named '{name}'");
        var args = new List<Expr>();
        if (Current.IsOp("("))
        {
            var (a, kw) = ParseArgs();
            if (kw.Count > 0) throw error(line, "keyword arguments to tests are not supported");
            args = a;
        }
        else if ((Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float || Current.IsOp("[") || Current.IsOp("{"))
                 && !(Current.IsName("else") || Current.IsName("or") || Current.IsName("and")))
        {
            if (Current.IsName("is")) throw error(Current.Line, "you cannot chain multiple tests with is");
            args.Add(ParsePostfix(ParsePrimary()));
        }
        return N(new TestExpr(line, node, name, args, negated), [node, .. args]);
    }
}
