namespace Tessera.Text.Templates;

// The syntax tree of a parsed template: statements (Stmt) and expressions (Expr), each with its source line.

internal abstract record Stmt(int Line);

internal sealed record TextStmt(int Line, string Text) : Stmt(Line);

internal sealed record PrintStmt(int Line, Expr Value) : Stmt(Line);

internal sealed record ForStmt(int Line, IReadOnlyList<string> Targets, Expr Iterable, Expr? Filter, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt> Else) : Stmt(Line);

internal sealed record IfStmt(int Line, Expr Test, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt> Else) : Stmt(Line);

/// <summary><c>{% set a = x %}</c>, <c>{% set a, b = x %}</c> or <c>{% set ns.attr = x %}</c> (Namespace set).</summary>
internal sealed record SetStmt(int Line, IReadOnlyList<string> Targets, string? Attribute, Expr Value) : Stmt(Line);

/// <summary><c>{% set a %}...{% endset %}</c>, optionally with filters applied to the captured text.</summary>
internal sealed record SetBlockStmt(int Line, string Target, string? Attribute, IReadOnlyList<Stmt> Body, IReadOnlyList<FilterExpr> Filters) : Stmt(Line);

internal sealed record MacroStmt(int Line, string Name, IReadOnlyList<string> Parameters, IReadOnlyList<Expr?> Defaults, IReadOnlyList<Stmt> Body) : Stmt(Line);

internal sealed record FilterBlockStmt(int Line, IReadOnlyList<FilterExpr> Filters, IReadOnlyList<Stmt> Body) : Stmt(Line);

internal sealed record ScopeStmt(int Line, IReadOnlyList<(string Name, Expr Value)> Assignments, IReadOnlyList<Stmt> Body) : Stmt(Line);

internal sealed record BreakStmt(int Line) : Stmt(Line);

internal sealed record ContinueStmt(int Line) : Stmt(Line);

internal abstract record Expr(int Line);

internal sealed record ConstExpr(int Line, object? Value) : Expr(Line);

internal sealed record NameExpr(int Line, string Name) : Expr(Line);

internal sealed record ListExpr(int Line, IReadOnlyList<Expr> Items) : Expr(Line);

internal sealed record TupleExpr(int Line, IReadOnlyList<Expr> Items) : Expr(Line);

internal sealed record DictExpr(int Line, IReadOnlyList<(Expr Key, Expr Value)> Items) : Expr(Line);

internal sealed record AttrExpr(int Line, Expr Target, string Name) : Expr(Line);

internal sealed record ItemExpr(int Line, Expr Target, Expr Key) : Expr(Line);

internal sealed record SliceExpr(int Line, Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr(Line);

internal sealed record CallExpr(int Line, Expr Target, IReadOnlyList<Expr> Args, IReadOnlyList<(string Name, Expr Value)> Kwargs) : Expr(Line);

internal sealed record FilterExpr(int Line, Expr? Target, string Name, IReadOnlyList<Expr> Args, IReadOnlyList<(string Name, Expr Value)> Kwargs) : Expr(Line);

internal sealed record TestExpr(int Line, Expr Target, string Name, IReadOnlyList<Expr> Args, bool Negated) : Expr(Line);

internal sealed record BinaryExpr(int Line, string Op, Expr Left, Expr Right) : Expr(Line);

internal sealed record UnaryExpr(int Line, string Op, Expr Operand) : Expr(Line);

internal sealed record CompareExpr(int Line, Expr First, IReadOnlyList<(string Op, Expr Right)> Rest) : Expr(Line);

internal sealed record CondExpr(int Line, Expr Test, Expr Then, Expr? Else) : Expr(Line);

internal sealed record ConcatExpr(int Line, IReadOnlyList<Expr> Parts) : Expr(Line);
