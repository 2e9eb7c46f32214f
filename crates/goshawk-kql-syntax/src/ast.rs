//! The typed syntax tree. Every node carries the byte [`Span`] of the source text it came from,
//! so the original text of any node (a literal, say) is `span.text(source)`.

use crate::span::Span;

/// A value together with the span of the text it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// A name: a column, table, function, parameter or option name. `['a b']` is stored decoded
/// (`a b`); `$left` / `$right` keep their `$`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A name that may contain `*` wildcards, e.g. `Sec*` in `union` or `Col*` in `project-away`.
#[derive(Debug, Clone, PartialEq)]
pub struct NamePattern {
    pub pattern: String,
    pub span: Span,
}

impl NamePattern {
    pub fn has_wildcard(&self) -> bool {
        self.pattern.contains('*')
    }
}

/// A whole query: statements separated by `;`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub statements: Vec<Statement>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub kind: StatementKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    Let(LetStatement),
    /// `set name [= value]`
    Set {
        name: Ident,
        value: Option<Expr>,
    },
    /// `declare query_parameters(name:type [= default], ...)`
    DeclareQueryParameters(Vec<Parameter>),
    /// `alias database name = cluster('c').database('d')`
    AliasDatabase {
        name: Ident,
        target: Expr,
    },
    DeclarePattern(DeclarePattern),
    /// `restrict access to (T1, database('d').T*, ...)`
    RestrictAccess(Vec<UnionOperand>),
    /// A tabular expression whose result is the query's (or function body's) output.
    Tabular(TabularExpr),
    /// A scalar expression ending a function body, e.g. `{ x * 2 }`.
    Scalar(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LetStatement {
    pub name: Ident,
    pub value: LetValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LetValue {
    /// A scalar expression, or a bare name / call whose kind (scalar or tabular) only the
    /// semantic analyser can tell, e.g. `let x = SigninLogs;`.
    Expr(Expr),
    /// Syntactically tabular: a pipeline, `datatable`, `materialize(...)` wrapped in a pipeline...
    Tabular(TabularExpr),
    /// `(params) { body }`
    Function(FunctionDef),
    /// `view (params) { body }`
    View(FunctionDef),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    pub params: Vec<Parameter>,
    pub body: FunctionBody,
    pub span: Span,
}

/// `{ statements; result }`: `let` statements followed by the result expression.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionBody {
    pub statements: Vec<Statement>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: Ident,
    pub ty: ParamType,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    Scalar(TypeName),
    /// `T:(*)` (open, no columns), `T:(a:string, b:long)`, `T:(a:string, *)`.
    Tabular(TabularSchema),
}

#[derive(Debug, Clone, PartialEq)]
pub struct TabularSchema {
    pub columns: Vec<ColumnDecl>,
    /// The schema contains `*`: further columns are allowed.
    pub open: bool,
    pub span: Span,
}

/// `name:type`
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDecl {
    pub name: Ident,
    pub ty: TypeName,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarType {
    Bool,
    DateTime,
    Decimal,
    Dynamic,
    Guid,
    Int,
    Long,
    Real,
    String,
    Timespan,
}

impl ScalarType {
    /// Parses a type name including its documented aliases (`boolean`, `date`, `double`,
    /// `int64`, `uniqueid`, `time`, ...).
    pub fn from_name(name: &str) -> Option<ScalarType> {
        Some(match name {
            "bool" | "boolean" => ScalarType::Bool,
            "datetime" | "date" => ScalarType::DateTime,
            "decimal" => ScalarType::Decimal,
            "dynamic" => ScalarType::Dynamic,
            "guid" | "uuid" | "uniqueid" => ScalarType::Guid,
            "int" | "int32" => ScalarType::Int,
            "long" | "int64" => ScalarType::Long,
            "real" | "double" | "float" => ScalarType::Real,
            "string" => ScalarType::String,
            "timespan" | "time" => ScalarType::Timespan,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ScalarType::Bool => "bool",
            ScalarType::DateTime => "datetime",
            ScalarType::Decimal => "decimal",
            ScalarType::Dynamic => "dynamic",
            ScalarType::Guid => "guid",
            ScalarType::Int => "int",
            ScalarType::Long => "long",
            ScalarType::Real => "real",
            ScalarType::String => "string",
            ScalarType::Timespan => "timespan",
        }
    }
}

pub type TypeName = Spanned<ScalarType>;

/// `declare pattern name [= (args) [.[path]] { (values).[path] = { query }; ... }]`
#[derive(Debug, Clone, PartialEq)]
pub struct DeclarePattern {
    pub name: Ident,
    pub params: Vec<Parameter>,
    pub path_params: Vec<Parameter>,
    pub definitions: Vec<PatternDefinition>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatternDefinition {
    pub args: Vec<Expr>,
    pub path_args: Vec<Expr>,
    pub body: FunctionBody,
    pub span: Span,
}

/// `source | operator | operator ...`. `source` is `None` only for sub-queries that run on
/// the input of an enclosing operator (`mv-apply ... on (...)`, `fork (...)`, `facet ... with
/// (...)`, `partition ... (...)`).
#[derive(Debug, Clone, PartialEq)]
pub struct TabularExpr {
    pub source: Option<Box<Source>>,
    pub operators: Vec<Operator>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub kind: SourceKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// A table, a let-bound name or a parameterless function: `SigninLogs`.
    Name(Ident),
    /// `table('x')`, `_GetWatchlist('x')`, `materialize(...)`, `imAuthentication(...)`.
    Call(FunctionCall),
    /// A dotted reference such as `cluster('c').database('d').T` or `database('d').T`.
    Path(Vec<PathPart>),
    /// `( tabular expression )`
    Parenthesized(Box<TabularExpr>),
    /// A tabular operator that produces rows by itself: `print`, `range`, `datatable`,
    /// `externaldata`, `union`, `find`, `search`, `evaluate`.
    Operator(Box<Operator>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum PathPart {
    Name(Ident),
    Call(FunctionCall),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    pub kind: OperatorKind,
    pub span: Span,
}

/// A `name=value` option of an operator (`kind=inner`, `hint.strategy=shuffle`, ...). Options
/// that an operator struct has a typed field for are not repeated here.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorParam {
    /// Dotted names are joined: `hint.strategy`.
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `[name =] expr` or `(a, b) = expr` in extend, project, summarize, print, ...
#[derive(Debug, Clone, PartialEq)]
pub struct NamedExpr {
    pub names: Vec<Ident>,
    pub expr: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullsOrder {
    First,
    Last,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub order: Option<Spanned<SortOrder>>,
    pub nulls: Option<Spanned<NullsOrder>>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    InnerUnique,
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
    LeftAnti,
    RightAnti,
    LeftSemi,
    RightSemi,
    /// The old `leftantisemi` spelling.
    LeftAntiSemi,
    RightAntiSemi,
}

impl JoinKind {
    pub const NAMES: &'static [(&'static str, JoinKind)] = &[
        ("innerunique", JoinKind::InnerUnique),
        ("inner", JoinKind::Inner),
        ("leftouter", JoinKind::LeftOuter),
        ("rightouter", JoinKind::RightOuter),
        ("fullouter", JoinKind::FullOuter),
        ("outer", JoinKind::FullOuter),
        ("leftanti", JoinKind::LeftAnti),
        ("anti", JoinKind::LeftAnti),
        ("rightanti", JoinKind::RightAnti),
        ("leftsemi", JoinKind::LeftSemi),
        ("semi", JoinKind::LeftSemi),
        ("rightsemi", JoinKind::RightSemi),
        ("leftantisemi", JoinKind::LeftAntiSemi),
        ("rightantisemi", JoinKind::RightAntiSemi),
    ];
}

/// One `on` condition of `join` / `lookup`.
#[derive(Debug, Clone, PartialEq)]
pub enum JoinKey {
    /// `on Col`: equal values of the same column on both sides.
    Column(Ident),
    /// `$left.A == $right.B` (either order in the source; stored left/right).
    Equal {
        left: Ident,
        right: Ident,
        span: Span,
    },
    /// Any other condition (Kusto only accepts the two forms above; kept for the analyser to
    /// report precisely).
    Other(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub kind: Option<Spanned<JoinKind>>,
    pub params: Vec<OperatorParam>,
    pub right: Box<TabularExpr>,
    pub on: Vec<JoinKey>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum UnionOperand {
    /// A table name with wildcards, e.g. `Sec*`.
    Pattern(NamePattern),
    /// A wildcard inside a database or cluster: `database('d').*`, `cluster('c').database('d*').T*`.
    ScopedPattern {
        scope: Vec<PathPart>,
        pattern: NamePattern,
        span: Span,
    },
    Tabular(TabularExpr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct MvExpandItem {
    pub column: NamedExpr,
    /// `to typeof(long)`
    pub to_type: Option<TypeName>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseKind {
    Simple,
    Regex,
    Relaxed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParsePatternPart {
    /// A string literal to match (a regex fragment with `kind=regex`).
    Literal(Literal),
    /// `Name` or `Name:type`: a new column.
    Capture {
        name: Ident,
        ty: Option<TypeName>,
        span: Span,
    },
    /// `*`: skip any text.
    Wildcard(Span),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parse {
    pub kind: Option<Spanned<ParseKind>>,
    pub params: Vec<OperatorParam>,
    pub input: Expr,
    pub pattern: Vec<ParsePatternPart>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MakeSeriesAggregate {
    pub aggregate: NamedExpr,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MakeSeriesRange {
    /// `from a to b step c` (`from` and `to` may each be omitted).
    FromTo {
        from: Option<Expr>,
        to: Option<Expr>,
        step: Expr,
    },
    /// `in range(a, b, c)`
    InRange { start: Expr, stop: Expr, step: Expr },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopNestedLevel {
    pub count: Option<Expr>,
    pub of: NamedExpr,
    pub with_others: Option<Expr>,
    pub by: NamedExpr,
    pub order: Option<Spanned<SortOrder>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RenameColumn {
    pub new_name: Ident,
    pub old_name: Ident,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReorderColumn {
    pub pattern: NamePattern,
    /// `asc`, `desc`, `granny-asc`, `granny-desc`
    pub order: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FindProjection {
    Columns(Vec<Expr>),
    Smart(Span),
    /// A list in which at least one column has a type: `project Level, ProcessId:string`.
    Typed(Vec<FindColumn>),
}

/// `Column` or `Column:type` in `find ... project`.
#[derive(Debug, Clone, PartialEq)]
pub struct FindColumn {
    pub expr: Expr,
    pub ty: Option<TypeName>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForkBranch {
    pub name: Option<Ident>,
    pub body: TabularExpr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScanStep {
    pub name: Ident,
    /// `output=all|last|none`
    pub output: Option<Ident>,
    pub condition: Expr,
    pub assignments: Vec<NamedExpr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScanDeclaration {
    pub column: ColumnDecl,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeDirection {
    /// `-[...]->`
    Forward,
    /// `<-[...]-`
    Backward,
    /// `-[...]-`
    Any,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GraphPatternElement {
    /// `(name)` or `(name:Label)`
    Node {
        name: Option<Ident>,
        label: Option<Ident>,
        span: Span,
    },
    /// `-[name*min..max]->`
    Edge {
        name: Option<Ident>,
        direction: EdgeDirection,
        min_hops: Option<Expr>,
        max_hops: Option<Expr>,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct GraphPattern {
    pub elements: Vec<GraphPatternElement>,
    pub span: Span,
}

/// `partitioned-by Column ( subquery )`: the subquery runs on one graph per value of `column`.
#[derive(Debug, Clone, PartialEq)]
pub struct MakeGraphPartition {
    pub column: Ident,
    pub subquery: Box<TabularExpr>,
    pub span: Span,
}

/// The entities `macro-expand` runs its subquery on.
#[derive(Debug, Clone, PartialEq)]
pub enum EntityGroup {
    /// A stored entity group or a let-bound one: `MyEntityGroup`.
    Name(Ident),
    /// `entity_group [cluster('c').database('d'), ...]`
    Inline { entities: Vec<Expr>, span: Span },
}

#[derive(Debug, Clone, PartialEq)]
pub struct MakeGraphNodes {
    pub table: TabularExpr,
    pub key: Ident,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OperatorKind {
    /// `where` / `filter`
    Where {
        predicate: Expr,
    },
    Extend {
        columns: Vec<NamedExpr>,
    },
    Project {
        columns: Vec<NamedExpr>,
    },
    ProjectAway {
        columns: Vec<NamePattern>,
    },
    ProjectKeep {
        columns: Vec<NamePattern>,
    },
    ProjectRename {
        columns: Vec<RenameColumn>,
    },
    ProjectReorder {
        columns: Vec<ReorderColumn>,
    },
    /// `project-by-names "A", column_names_of(T), dynamic_list`: string or string-array values.
    ProjectByNames {
        columns: Vec<Expr>,
    },
    Summarize {
        params: Vec<OperatorParam>,
        aggregates: Vec<NamedExpr>,
        by: Vec<NamedExpr>,
    },
    /// The `count` operator.
    Count {
        params: Vec<OperatorParam>,
    },
    /// `distinct *` is a single `Star` expression; `distinct A, B = expr` names computed columns.
    Distinct {
        params: Vec<OperatorParam>,
        columns: Vec<NamedExpr>,
    },
    /// `take` / `limit`
    Take {
        params: Vec<OperatorParam>,
        count: Expr,
    },
    Top {
        params: Vec<OperatorParam>,
        count: Expr,
        by: Vec<SortKey>,
    },
    TopNested {
        levels: Vec<TopNestedLevel>,
    },
    TopHitters {
        count: Expr,
        of: Expr,
        by: Option<Expr>,
    },
    /// `sort by` / `order by`
    Sort {
        params: Vec<OperatorParam>,
        keys: Vec<SortKey>,
    },
    Join(Join),
    Lookup(Join),
    Union {
        params: Vec<OperatorParam>,
        operands: Vec<UnionOperand>,
    },
    /// `mv-expand` / `mvexpand`
    MvExpand {
        params: Vec<OperatorParam>,
        items: Vec<MvExpandItem>,
        limit: Option<Expr>,
    },
    MvApply {
        params: Vec<OperatorParam>,
        items: Vec<MvExpandItem>,
        limit: Option<Expr>,
        subquery: Box<TabularExpr>,
    },
    Parse(Parse),
    ParseWhere(Parse),
    ParseKv {
        input: Expr,
        captures: Vec<ColumnDecl>,
        /// The `with (pair_delimiter=..., kv_delimiter=..., quote=..., ...)` properties.
        properties: Vec<OperatorParam>,
    },
    MakeSeries {
        params: Vec<OperatorParam>,
        aggregates: Vec<MakeSeriesAggregate>,
        on: Expr,
        range: MakeSeriesRange,
        by: Vec<NamedExpr>,
    },
    /// `evaluate [hints] plugin(args) [: (output schema)]`
    Evaluate {
        params: Vec<OperatorParam>,
        plugin: FunctionCall,
        output_schema: Option<TabularSchema>,
    },
    Render {
        visualization: Ident,
        /// `with (title=..., kind=..., ycolumns=a, b)`; a list value is an `ExprKind::List`.
        properties: Vec<OperatorParam>,
    },
    Search {
        params: Vec<OperatorParam>,
        tables: Option<Vec<NamePattern>>,
        predicate: Expr,
    },
    Find {
        params: Vec<OperatorParam>,
        tables: Option<Vec<UnionOperand>>,
        predicate: Expr,
        projection: Option<FindProjection>,
    },
    Facet {
        columns: Vec<Ident>,
        with: Option<Box<TabularExpr>>,
    },
    Fork {
        branches: Vec<ForkBranch>,
    },
    Partition {
        params: Vec<OperatorParam>,
        by: Expr,
        subquery: Box<TabularExpr>,
    },
    Scan {
        params: Vec<OperatorParam>,
        declare: Vec<ScanDeclaration>,
        steps: Vec<ScanStep>,
    },
    As {
        params: Vec<OperatorParam>,
        name: Ident,
    },
    Invoke {
        function: FunctionCall,
    },
    Serialize {
        columns: Vec<NamedExpr>,
    },
    Sample {
        params: Vec<OperatorParam>,
        count: Expr,
    },
    SampleDistinct {
        params: Vec<OperatorParam>,
        count: Expr,
        of: Expr,
    },
    GetSchema,
    Consume {
        params: Vec<OperatorParam>,
    },
    Reduce {
        params: Vec<OperatorParam>,
        by: Expr,
        with: Vec<OperatorParam>,
    },
    Print {
        columns: Vec<NamedExpr>,
    },
    /// `range x from a to b step c`
    Range {
        column: Ident,
        from: Expr,
        to: Expr,
        step: Expr,
    },
    Datatable {
        schema: Vec<ColumnDecl>,
        values: Vec<Expr>,
    },
    /// `externaldata` (also spelled `external_data`).
    ExternalData {
        schema: Vec<ColumnDecl>,
        uris: Vec<Literal>,
        properties: Vec<OperatorParam>,
    },
    /// `inline_external_table(schema) kind=storage dataformat=csv (uris) [with (...)]`
    InlineExternalTable {
        schema: Vec<ColumnDecl>,
        params: Vec<OperatorParam>,
        uris: Vec<Literal>,
        properties: Vec<OperatorParam>,
    },
    MakeGraph {
        params: Vec<OperatorParam>,
        source_column: Ident,
        /// `-->` is directed, `--` undirected.
        directed: bool,
        target_column: Ident,
        nodes: Vec<MakeGraphNodes>,
        partitioned_by: Option<MakeGraphPartition>,
    },
    GraphMatch {
        params: Vec<OperatorParam>,
        patterns: Vec<GraphPattern>,
        predicate: Option<Expr>,
        project: Vec<NamedExpr>,
    },
    GraphShortestPaths {
        params: Vec<OperatorParam>,
        patterns: Vec<GraphPattern>,
        predicate: Option<Expr>,
        project: Vec<NamedExpr>,
    },
    GraphMarkComponents {
        params: Vec<OperatorParam>,
    },
    /// `graph-to-table nodes [as N] [with_node_id=C], edges [as E] [...]`
    GraphToTable {
        parts: Vec<GraphToTablePart>,
    },
    GraphMerge {
        right: Box<TabularExpr>,
        on: Vec<JoinKey>,
    },
    /// `macro-expand [params] EntityGroup as X ( subquery )`: the subquery, with `X.T` naming
    /// table `T` of each entity, runs once per entity and the results are unioned.
    MacroExpand {
        params: Vec<OperatorParam>,
        entity_group: EntityGroup,
        alias: Ident,
        subquery: Box<TabularExpr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct GraphToTablePart {
    /// `nodes` or `edges`
    pub entity: Ident,
    pub alias: Option<Ident>,
    pub params: Vec<OperatorParam>,
    pub span: Span,
}

impl OperatorKind {
    /// The operator's name as written in KQL (the canonical spelling for aliases).
    pub fn name(&self) -> &'static str {
        match self {
            OperatorKind::Where { .. } => "where",
            OperatorKind::Extend { .. } => "extend",
            OperatorKind::Project { .. } => "project",
            OperatorKind::ProjectAway { .. } => "project-away",
            OperatorKind::ProjectKeep { .. } => "project-keep",
            OperatorKind::ProjectRename { .. } => "project-rename",
            OperatorKind::ProjectReorder { .. } => "project-reorder",
            OperatorKind::ProjectByNames { .. } => "project-by-names",
            OperatorKind::Summarize { .. } => "summarize",
            OperatorKind::Count { .. } => "count",
            OperatorKind::Distinct { .. } => "distinct",
            OperatorKind::Take { .. } => "take",
            OperatorKind::Top { .. } => "top",
            OperatorKind::TopNested { .. } => "top-nested",
            OperatorKind::TopHitters { .. } => "top-hitters",
            OperatorKind::Sort { .. } => "sort",
            OperatorKind::Join(_) => "join",
            OperatorKind::Lookup(_) => "lookup",
            OperatorKind::Union { .. } => "union",
            OperatorKind::MvExpand { .. } => "mv-expand",
            OperatorKind::MvApply { .. } => "mv-apply",
            OperatorKind::Parse(_) => "parse",
            OperatorKind::ParseWhere(_) => "parse-where",
            OperatorKind::ParseKv { .. } => "parse-kv",
            OperatorKind::MakeSeries { .. } => "make-series",
            OperatorKind::Evaluate { .. } => "evaluate",
            OperatorKind::Render { .. } => "render",
            OperatorKind::Search { .. } => "search",
            OperatorKind::Find { .. } => "find",
            OperatorKind::Facet { .. } => "facet",
            OperatorKind::Fork { .. } => "fork",
            OperatorKind::Partition { .. } => "partition",
            OperatorKind::Scan { .. } => "scan",
            OperatorKind::As { .. } => "as",
            OperatorKind::Invoke { .. } => "invoke",
            OperatorKind::Serialize { .. } => "serialize",
            OperatorKind::Sample { .. } => "sample",
            OperatorKind::SampleDistinct { .. } => "sample-distinct",
            OperatorKind::GetSchema => "getschema",
            OperatorKind::Consume { .. } => "consume",
            OperatorKind::Reduce { .. } => "reduce",
            OperatorKind::Print { .. } => "print",
            OperatorKind::Range { .. } => "range",
            OperatorKind::Datatable { .. } => "datatable",
            OperatorKind::ExternalData { .. } => "externaldata",
            OperatorKind::InlineExternalTable { .. } => "inline_external_table",
            OperatorKind::MakeGraph { .. } => "make-graph",
            OperatorKind::GraphMatch { .. } => "graph-match",
            OperatorKind::GraphShortestPaths { .. } => "graph-shortest-paths",
            OperatorKind::GraphMarkComponents { .. } => "graph-mark-components",
            OperatorKind::GraphToTable { .. } => "graph-to-table",
            OperatorKind::GraphMerge { .. } => "graph-merge",
            OperatorKind::MacroExpand { .. } => "macro-expand",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionCall {
    pub name: Ident,
    pub args: Vec<Argument>,
    pub span: Span,
}

/// A call argument; `name` is set for named arguments (`f(x, mode="y")`).
#[derive(Debug, Clone, PartialEq)]
pub struct Argument {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    /// A column, let-bound name or parameter.
    Name(Ident),
    /// `*` as an argument (`arg_max(T, *)`) or column list (`distinct *`).
    Star,
    Paren(Box<Expr>),
    /// `a.b`
    Member {
        target: Box<Expr>,
        member: Ident,
    },
    /// `a[0]`, `a["b"]`, `a.[0]`
    Index {
        target: Box<Expr>,
        index: Box<Expr>,
    },
    Call(FunctionCall),
    /// `target.f(...)`, as in `cluster('c').database('d')`.
    MethodCall {
        target: Box<Expr>,
        call: FunctionCall,
    },
    Unary {
        op: Spanned<UnaryOp>,
        operand: Box<Expr>,
    },
    Binary {
        op: Spanned<BinaryOp>,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `x in (a, b)`, `x !in~ (T | project y)`, `x has_any (list)`.
    InList {
        op: Spanned<ListOp>,
        value: Box<Expr>,
        list: Vec<Expr>,
    },
    /// `x between (low .. high)`; `negated` for `!between`.
    Between {
        value: Box<Expr>,
        negated: bool,
        low: Box<Expr>,
        high: Box<Expr>,
    },
    /// A tabular expression where a value is expected: `toscalar(T | count)`,
    /// `x in (T | project y)`, `materialize(T | ...)`.
    Tabular(Box<TabularExpr>),
    /// A comma-separated list of values, used only for `render` properties such as `ycolumns`.
    List(Vec<Expr>),
    /// `typeof(long)` (a scalar type) or `typeof(*, x:double)` (a plugin output schema).
    TypeOf(TypeOfArg),
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeOfArg {
    Scalar(TypeName),
    Schema(TabularSchema),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Plus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    /// `=~`: equal ignoring case.
    EqCi,
    /// `!~`
    NotEqCi,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Has,
    NotHas,
    HasCs,
    NotHasCs,
    HasPrefix,
    NotHasPrefix,
    HasPrefixCs,
    NotHasPrefixCs,
    HasSuffix,
    NotHasSuffix,
    HasSuffixCs,
    NotHasSuffixCs,
    Contains,
    NotContains,
    ContainsCs,
    NotContainsCs,
    StartsWith,
    NotStartsWith,
    StartsWithCs,
    NotStartsWithCs,
    EndsWith,
    NotEndsWith,
    EndsWithCs,
    NotEndsWithCs,
    MatchesRegex,
    /// `Col:"text"` inside `search` / `find` predicates.
    SearchColon,
}

impl BinaryOp {
    /// The word operators, by their spelling without a leading `!`.
    pub const WORDS: &'static [(&'static str, BinaryOp, BinaryOp)] = &[
        ("has", BinaryOp::Has, BinaryOp::NotHas),
        ("has_cs", BinaryOp::HasCs, BinaryOp::NotHasCs),
        ("hasprefix", BinaryOp::HasPrefix, BinaryOp::NotHasPrefix),
        (
            "hasprefix_cs",
            BinaryOp::HasPrefixCs,
            BinaryOp::NotHasPrefixCs,
        ),
        ("hassuffix", BinaryOp::HasSuffix, BinaryOp::NotHasSuffix),
        (
            "hassuffix_cs",
            BinaryOp::HasSuffixCs,
            BinaryOp::NotHasSuffixCs,
        ),
        ("contains", BinaryOp::Contains, BinaryOp::NotContains),
        ("contains_cs", BinaryOp::ContainsCs, BinaryOp::NotContainsCs),
        ("containscs", BinaryOp::ContainsCs, BinaryOp::NotContainsCs),
        ("startswith", BinaryOp::StartsWith, BinaryOp::NotStartsWith),
        (
            "startswith_cs",
            BinaryOp::StartsWithCs,
            BinaryOp::NotStartsWithCs,
        ),
        ("endswith", BinaryOp::EndsWith, BinaryOp::NotEndsWith),
        ("endswith_cs", BinaryOp::EndsWithCs, BinaryOp::NotEndsWithCs),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOp {
    In,
    NotIn,
    /// `in~`
    InCi,
    /// `!in~`
    NotInCi,
    HasAny,
    HasAll,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub kind: LiteralKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LiteralKind {
    Bool(bool),
    /// `int(...)`
    Int(i64),
    /// A plain integer literal or `long(...)`.
    Long(i64),
    Real(f64),
    /// `decimal(...)`: the text inside the parentheses.
    Decimal(String),
    /// Decoded: escapes resolved, adjacent literals concatenated, obfuscation removed.
    String(String),
    /// The text inside `datetime(...)`, unparsed (the engine parses it).
    DateTime(String),
    /// In ticks of 100 ns.
    Timespan(i64),
    /// The text inside `guid(...)`.
    Guid(String),
    Dynamic(DynamicValue),
    /// `datetime(null)`, `int(null)`, `time(null)`, ...
    TypedNull(ScalarType),
}

/// The value of a `dynamic(...)` literal.
#[derive(Debug, Clone, PartialEq)]
pub enum DynamicValue {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    String(String),
    Array(Vec<DynamicValue>),
    Object(Vec<(String, DynamicValue)>),
    /// A typed scalar literal inside the dynamic value, e.g. `dynamic([datetime(2020-01-01)])`.
    Scalar(Box<Literal>),
}
