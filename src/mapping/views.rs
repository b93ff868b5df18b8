//! Views and the other objects that are not tables (the manifest's `objects`): which views
//! become SQLite views, and a note for everything else.
//!
//! A view's definition is `pg_get_viewdef` text from the manifest, which anyone may have
//! written, so it is parsed (sqlparser, PostgreSQL dialect, recursion bounded), never
//! executed: the tree is walked with an allowlist of constructs whose meaning SQLite shares,
//! and SQLite SQL is re-emitted from it with every identifier quoted and every literal
//! re-quoted. What is refused comes back as a reason, which becomes a note. A definition that
//! is not one SELECT is not something `pg_get_viewdef` writes: that is an error.
//!
//! "The same meaning" is judged by each column's SQLite storage (the plan's conversions):
//! numbers compare and add only where they are INTEGER or REAL; text compares for equality
//! where Postgres' equality is byte equality, and orders only under the C collation; `LIKE`
//! (case-insensitive in SQLite), division, casts that change a value, subqueries, set
//! operations, window functions and every function but a few aggregates are refused.

use std::collections::HashMap;

use sqlparser::ast::{
    self, BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    JoinConstraint, JoinOperator, ObjectName, OrderByKind, Query, Select, SelectItem, SetExpr,
    Statement, TableFactor, UnaryOperator, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::names::{quote_ident, quote_literal};
use super::{Note, TablePlan};
use crate::mapping::{Conversion, NumericTarget};
use crate::model::objects::{Objects, ViewDef};

/// The views to create, in dependency order, and the notes for every object not carried.
#[derive(Debug, Clone, Default)]
pub struct ObjectPlan {
    /// `CREATE VIEW ...;` statements, each after the views it reads.
    pub create_views: Vec<String>,
    /// A note for every view not created and every other object (trigger, function, ...) not
    /// carried.
    pub notes: Vec<Note>,
}

/// What a translated expression holds, as far as meaning goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// INTEGER or REAL storage of a Postgres number.
    Num,
    Bool,
    /// Text whose Postgres equality is byte equality (text, varchar, name, uuid).
    Str,
    Null,
    /// Anything else: only selected, tested for NULL or counted.
    Other,
}

/// One relation in a FROM clause: its alias and its columns (Postgres name → SQLite name,
/// class).
struct Scope {
    alias: String,
    columns: HashMap<String, (String, Class)>,
}

/// A relation a view may read: a table of the plan or a view already carried.
#[derive(Clone)]
struct Relation {
    sqlite: String,
    columns: HashMap<String, (String, Class)>,
}

/// Plans every object of `objects` against the planned `tables`.
///
/// # Errors
/// [`HostileView`] for a view definition that is not one SELECT.
pub fn plan(objects: &Objects, tables: &[TablePlan]) -> Result<ObjectPlan, HostileView> {
    let mut relations: HashMap<(String, String), Relation> = tables
        .iter()
        .map(|t| ((t.source.schema.clone(), t.source.name.clone()), table_relation(t)))
        .collect();
    let mut taken: Vec<String> = tables.iter().map(|t| t.name.to_lowercase()).collect();
    let ordered_text = matches!(objects.collation.as_str(), "C" | "POSIX");
    let mut out = ObjectPlan::default();
    let mut pending: Vec<(&ViewDef, Query)> = Vec::new();
    for v in &objects.views {
        match v.parse()? {
            Ok(q) => pending.push((v, q)),
            Err(why) => out.notes.push(view_note(v, "view not carried over", &why)),
        }
    }
    // Views on views: translate what can be, repeat while that makes progress.
    let mut last_why: HashMap<String, String> = HashMap::new();
    loop {
        let before = pending.len();
        let mut rest = Vec::new();
        for (v, q) in pending {
            let name = sqlite_name(v);
            if taken.contains(&name.to_lowercase()) {
                let why = format!("its SQLite name {name} is already a table's or a view's");
                out.notes.push(view_note(v, "view not carried over", &why));
                continue;
            }
            let t = Translator { relations: &relations, ordered_text };
            match t.view(v, &q) {
                Ok((sql, classes)) => {
                    out.create_views.push(sql);
                    taken.push(name.to_lowercase());
                    let columns = v
                        .columns
                        .iter()
                        .zip(classes)
                        .map(|(c, k)| (c.name.clone(), (c.name.clone(), k)))
                        .collect();
                    relations.insert(
                        (v.schema.clone(), v.name.clone()),
                        Relation { sqlite: name, columns },
                    );
                }
                Err(why) => {
                    last_why.insert(v.display_name(), why);
                    rest.push((v, q));
                }
            }
        }
        pending = rest;
        if pending.len() == before || pending.is_empty() {
            break;
        }
    }
    for (v, _) in pending {
        let why = last_why.remove(&v.display_name()).unwrap_or_default();
        out.notes.push(view_note(v, "view not carried over", &why));
    }
    out.notes.extend(other_notes(objects));
    Ok(out)
}

/// The SQLite name a view gets: as import names tables.
fn sqlite_name(v: &ViewDef) -> String {
    if v.schema == "public" { v.name.clone() } else { format!("{}_{}", v.schema, v.name) }
}

fn view_note(v: &ViewDef, what: &str, why: &str) -> Note {
    Note { table: v.display_name(), object: None, what: what.into(), why: why.into() }
}

fn table_relation(t: &TablePlan) -> Relation {
    let columns = t
        .columns
        .iter()
        .map(|c| (c.source.clone(), (c.name.clone(), class_of(c.conversion, &c.pg_type))))
        .collect();
    Relation { sqlite: t.name.clone(), columns }
}

fn class_of(conversion: Conversion, pg_type: &str) -> Class {
    match conversion {
        Conversion::Integer
        | Conversion::Float
        | Conversion::Numeric(NumericTarget::Integer | NumericTarget::Real) => Class::Num,
        Conversion::Boolean => Class::Bool,
        Conversion::Text
            if pg_type == "text"
                || pg_type == "name"
                || pg_type == "uuid"
                || pg_type.starts_with("character varying") =>
        {
            Class::Str
        }
        _ => Class::Other,
    }
}

/// Notes for everything that is never carried: materialized views (unless exported as
/// tables), triggers, routines, policies, free sequences, extensions.
fn other_notes(o: &Objects) -> Vec<Note> {
    let mut notes = Vec::new();
    let mut push = |table: String, object: Option<String>, what: &str, why: &str| {
        notes.push(Note { table, object, what: what.into(), why: why.into() });
    };
    for m in o.matviews.iter().filter(|m| !o.matviews_as_tables.contains(&m.display_name())) {
        push(
            m.display_name(),
            None,
            "materialized view not carried over",
            "SQLite has no materialized views; export with --matviews-as-tables to copy its rows \
             as a table",
        );
    }
    for t in &o.triggers {
        let why = "SQLite triggers are written in SQL, not in a Postgres function language";
        push(
            format!("{}.{}", t.schema, t.table),
            Some(format!("trigger {}", t.name)),
            "trigger not carried over",
            why,
        );
    }
    for r in &o.routines {
        let what = format!("{} not carried over", r.kind);
        let why = "SQLite has no stored functions or procedures";
        push(format!("{}.{}({})", r.schema, r.name, r.arguments), None, &what, why);
    }
    for p in &o.policies {
        let why = "SQLite has no row-level security: every reader of the file sees every row";
        push(
            format!("{}.{}", p.schema, p.table),
            Some(format!("policy {}", p.name)),
            "policy not carried over",
            why,
        );
    }
    for s in &o.sequences {
        let why = "no column owns it; SQLite has no sequences";
        push(format!("{}.{}", s.schema, s.name), None, "sequence not carried over", why);
    }
    for e in &o.extensions {
        let why = "SQLite has no Postgres extensions; what they provide is not in the file";
        push(
            format!("extension {} {}", e.name, e.version),
            None,
            "extension not carried over",
            why,
        );
    }
    notes
}

type Tr<T> = Result<T, String>;

struct Translator<'a> {
    relations: &'a HashMap<(String, String), Relation>,
    ordered_text: bool,
}

impl Translator<'_> {
    /// `CREATE VIEW "v" ("a", "b") AS SELECT ...;` and the classes of its columns.
    fn view(&self, v: &ViewDef, q: &Query) -> Tr<(String, Vec<Class>)> {
        let (select, classes) = self.query(q, v)?;
        let columns: Vec<String> = v.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let sql = format!(
            "CREATE VIEW {} ({}) AS {select};",
            quote_ident(&sqlite_name(v)),
            columns.join(", ")
        );
        Ok((sql, classes))
    }

    fn query(&self, q: &Query, v: &ViewDef) -> Tr<(String, Vec<Class>)> {
        if q.with.is_some() {
            return Err("it uses WITH".into());
        }
        if q.limit_clause.is_some() || q.fetch.is_some() {
            return Err("it uses LIMIT/OFFSET".into());
        }
        if !q.locks.is_empty() || q.for_clause.is_some() || !q.pipe_operators.is_empty() {
            return Err("it uses a clause SQLite lacks".into());
        }
        let SetExpr::Select(s) = q.body.as_ref() else {
            return Err("it is a set operation (UNION, INTERSECT, EXCEPT) or VALUES".into());
        };
        let scopes = self.from(s)?;
        let mut sql = String::from("SELECT ");
        let cx =
            Cx { scopes: &scopes, outputs: &v.columns.iter().map(|c| c.name.clone()).collect() };
        let classes = self.select(s, v, &cx, &mut sql)?;
        if let Some(order) = &q.order_by {
            sql.push_str(&self.order_by(order, &cx)?);
        }
        Ok((sql, classes))
    }

    fn select(&self, s: &Select, v: &ViewDef, cx: &Cx, sql: &mut String) -> Tr<Vec<Class>> {
        check_select_clauses(s)?;
        match &s.distinct {
            None => {}
            Some(ast::Distinct::Distinct) => sql.push_str("DISTINCT "),
            Some(ast::Distinct::On(_)) => return Err("it uses DISTINCT ON".into()),
        }
        if s.projection.len() != v.columns.len() {
            return Err("its select list does not match its columns".into());
        }
        let mut classes = Vec::new();
        let mut items = Vec::new();
        for (item, col) in s.projection.iter().zip(&v.columns) {
            let e = match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
                _ => return Err("it selects a wildcard".into()),
            };
            let (text, class) = self.expr(e, cx, 0)?;
            items.push(format!("{text} AS {}", quote_ident(&col.name)));
            classes.push(class);
        }
        sql.push_str(&items.join(", "));
        sql.push_str(" FROM ");
        sql.push_str(&self.emit_from(s, cx)?);
        if let Some(w) = &s.selection {
            sql.push_str(" WHERE ");
            sql.push_str(&self.condition(w, cx)?);
        }
        match &s.group_by {
            GroupByExpr::Expressions(exprs, mods) if mods.is_empty() => {
                if !exprs.is_empty() {
                    let parts: Tr<Vec<String>> =
                        exprs.iter().map(|e| self.expr(e, cx, 0).map(|x| x.0)).collect();
                    sql.push_str(" GROUP BY ");
                    sql.push_str(&parts?.join(", "));
                }
            }
            _ => return Err("it uses GROUP BY ALL, ROLLUP, CUBE or GROUPING SETS".into()),
        }
        if let Some(h) = &s.having {
            sql.push_str(" HAVING ");
            sql.push_str(&self.condition(h, cx)?);
        }
        Ok(classes)
    }

    /// The relations of the FROM clause, each with its alias.
    fn from(&self, s: &Select) -> Tr<Vec<Scope>> {
        let mut scopes = Vec::new();
        for twj in &s.from {
            scopes.push(self.factor(&twj.relation)?);
            for j in &twj.joins {
                scopes.push(self.factor(&j.relation)?);
            }
        }
        if scopes.is_empty() {
            return Err("it reads no table".into());
        }
        Ok(scopes)
    }

    fn factor(&self, f: &TableFactor) -> Tr<Scope> {
        let TableFactor::Table {
            name, alias, args, with_hints, version, partitions, sample, ..
        } = f
        else {
            return Err("it reads from a subquery or a function".into());
        };
        if args.is_some()
            || !with_hints.is_empty()
            || version.is_some()
            || !partitions.is_empty()
            || sample.is_some()
        {
            return Err("it reads a table in a way SQLite lacks".into());
        }
        let (schema, table) = qualified(name)?;
        let rel = self
            .relations
            .get(&(schema.clone(), table.clone()))
            .ok_or_else(|| format!("it reads {schema}.{table}, which is not carried over"))?;
        if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
            return Err("it renames a table's columns in FROM".into());
        }
        let alias = alias.as_ref().map_or(table, |a| a.name.value.clone());
        Ok(Scope { alias, columns: rel.columns.clone() })
    }

    fn emit_from(&self, s: &Select, cx: &Cx) -> Tr<String> {
        let mut parts = Vec::new();
        let mut i = 0;
        for twj in &s.from {
            let mut text = self.factor_text(&twj.relation, &cx.scopes[i])?;
            i += 1;
            for j in &twj.joins {
                let (kw, c) = match &j.join_operator {
                    JoinOperator::Join(c) | JoinOperator::Inner(c) => ("JOIN", c),
                    JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => ("LEFT JOIN", c),
                    JoinOperator::CrossJoin(c) => ("CROSS JOIN", c),
                    _ => {
                        return Err(
                            "it uses a join SQLite does not share (RIGHT, FULL, LATERAL)".into()
                        );
                    }
                };
                let rel = self.factor_text(&j.relation, &cx.scopes[i])?;
                i += 1;
                text = match c {
                    JoinConstraint::On(e) => {
                        format!("{text} {kw} {rel} ON {}", self.condition(e, cx)?)
                    }
                    JoinConstraint::None => format!("{text} {kw} {rel}"),
                    _ => return Err("it joins with USING or NATURAL".into()),
                };
            }
            parts.push(text);
        }
        Ok(parts.join(", "))
    }

    fn factor_text(&self, f: &TableFactor, scope: &Scope) -> Tr<String> {
        let TableFactor::Table { name, .. } = f else { unreachable!("checked by from") };
        let key = qualified(name)?;
        let rel = &self.relations[&key];
        Ok(format!("{} AS {}", quote_ident(&rel.sqlite), quote_ident(&scope.alias)))
    }

    fn order_by(&self, o: &ast::OrderBy, cx: &Cx) -> Tr<String> {
        let OrderByKind::Expressions(exprs) = &o.kind else {
            return Err("it uses ORDER BY ALL".into());
        };
        let mut parts = Vec::new();
        for e in exprs {
            let (text, class) = self.expr(&e.expr, cx, 0)?;
            self.orderable(class)?;
            let desc = e.options.asc == Some(false);
            // Postgres puts NULLs last ascending and first descending; SQLite the opposite.
            let nulls_first = e.options.nulls_first.unwrap_or(desc);
            parts.push(format!(
                "{text} {} NULLS {}",
                if desc { "DESC" } else { "ASC" },
                if nulls_first { "FIRST" } else { "LAST" }
            ));
        }
        Ok(format!(" ORDER BY {}", parts.join(", ")))
    }

    fn orderable(&self, class: Class) -> Tr<()> {
        match class {
            Class::Num | Class::Bool | Class::Null => Ok(()),
            Class::Str if self.ordered_text => Ok(()),
            Class::Str => Err(
                "it orders text, which Postgres does by the database's collation and SQLite by \
                 bytes"
                    .into(),
            ),
            Class::Other => Err("it orders or compares values SQLite stores as text of another \
                                 type (time, enum, json, ...)"
                .into()),
        }
    }

    fn condition(&self, e: &Expr, cx: &Cx) -> Tr<String> {
        let (text, class) = self.expr(e, cx, 0)?;
        match class {
            Class::Bool | Class::Null => Ok(text),
            _ => Err("a condition that is not a boolean".into()),
        }
    }

    fn expr(&self, e: &Expr, cx: &Cx, depth: usize) -> Tr<(String, Class)> {
        if depth > MAX_RECURSION * 4 {
            return Err("it nests too deeply".into());
        }
        let d = depth + 1;
        match e {
            Expr::Identifier(i) => cx.column(None, &i.value),
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [t, c] => cx.column(Some(&t.value), &c.value),
                _ => Err("a column named with more than table.column".into()),
            },
            Expr::Value(v) => literal(&v.value),
            Expr::Nested(x) => {
                let (t, c) = self.expr(x, cx, d)?;
                Ok((format!("({t})"), c))
            }
            Expr::Cast {
                kind: ast::CastKind::DoubleColon | ast::CastKind::Cast,
                expr,
                data_type,
                format: None,
            } => self.cast(expr, &data_type.to_string().to_lowercase(), cx, d),
            Expr::IsNull(x) => Ok((format!("({} IS NULL)", self.expr(x, cx, d)?.0), Class::Bool)),
            Expr::IsNotNull(x) => {
                Ok((format!("({} IS NOT NULL)", self.expr(x, cx, d)?.0), Class::Bool))
            }
            Expr::UnaryOp { op, expr } => self.unary(*op, expr, cx, d),
            Expr::BinaryOp { left, op, right } => self.binary(left, op, right, cx, d),
            Expr::AnyOp { left, compare_op: BinaryOperator::Eq, right, .. } => {
                let Expr::Array(ast::Array { elem, .. }) = strip_nested(right) else {
                    return Err("it compares with ANY of something other than a list".into());
                };
                self.in_list(left, elem, false, cx, d)
            }
            Expr::InList { expr, list, negated } => self.in_list(expr, list, *negated, cx, d),
            Expr::Between { expr, negated, low, high } => {
                let (x, xc) = self.expr(expr, cx, d)?;
                let (lo, loc) = self.expr(low, cx, d)?;
                let (hi, hic) = self.expr(high, cx, d)?;
                for c in [xc, loc, hic] {
                    self.orderable(c)?;
                }
                same_for_equality(xc, loc)?;
                same_for_equality(xc, hic)?;
                let not = if *negated { "NOT " } else { "" };
                Ok((format!("({x} {not}BETWEEN {lo} AND {hi})"), Class::Bool))
            }
            Expr::Case { operand, conditions, else_result, .. } => {
                self.case(operand.as_deref(), conditions, else_result.as_deref(), cx, d)
            }
            Expr::Function(f) => self.function(f, cx, d),
            Expr::Like { .. } | Expr::ILike { .. } => {
                Err("it uses LIKE, which ignores case in SQLite".into())
            }
            Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::Exists { .. } => {
                Err("it uses a subquery".into())
            }
            _ => Err(format!("it uses {}, which pg2lite does not carry over", describe(e))),
        }
    }

    fn in_list(
        &self,
        x: &Expr,
        list: &[Expr],
        negated: bool,
        cx: &Cx,
        d: usize,
    ) -> Tr<(String, Class)> {
        let (l, lc) = self.expr(x, cx, d)?;
        let mut items = Vec::new();
        for x in list {
            let (t, c) = self.expr(x, cx, d)?;
            same_for_equality(lc, c)?;
            items.push(t);
        }
        let not = if negated { "NOT " } else { "" };
        Ok((format!("({l} {not}IN ({}))", items.join(", ")), Class::Bool))
    }

    fn cast(&self, x: &Expr, ty: &str, cx: &Cx, d: usize) -> Tr<(String, Class)> {
        let (text, class) = self.expr(x, cx, d)?;
        let text_type = ty == "text" || ty.starts_with("character varying") || ty == "varchar";
        let num_type = matches!(
            ty,
            "integer"
                | "int"
                | "bigint"
                | "smallint"
                | "int4"
                | "int8"
                | "double precision"
                | "real"
        ) || ty.starts_with("numeric");
        // Only casts that change nothing SQLite holds: a string literal to text, an integer
        // literal or integer to an integer type, text to text.
        match (x, class) {
            (_, Class::Str) if text_type => Ok((text, Class::Str)),
            (_, Class::Null) => Ok((text, Class::Null)),
            (Expr::Value(v), Class::Num)
                if num_type
                    && matches!(v.value, Value::Number(ref n, _) if !n.contains(['.', 'e', 'E'])) =>
            {
                Ok((text, Class::Num))
            }
            _ => Err(format!("it casts to {ty}, which changes the value in a way SQLite does not")),
        }
    }

    fn unary(&self, op: UnaryOperator, x: &Expr, cx: &Cx, d: usize) -> Tr<(String, Class)> {
        let (t, c) = self.expr(x, cx, d)?;
        match (op, c) {
            (UnaryOperator::Not, Class::Bool) => Ok((format!("(NOT {t})"), Class::Bool)),
            (UnaryOperator::Minus, Class::Num) => Ok((format!("(- {t})"), Class::Num)),
            (UnaryOperator::Plus, Class::Num) => Ok((t, Class::Num)),
            _ => Err(format!("it uses the operator {op} on a value it does not apply to alike")),
        }
    }

    fn binary(
        &self,
        l: &Expr,
        op: &BinaryOperator,
        r: &Expr,
        cx: &Cx,
        d: usize,
    ) -> Tr<(String, Class)> {
        let (lt, lc) = self.expr(l, cx, d)?;
        let (rt, rc) = self.expr(r, cx, d)?;
        let out = |sym: &str, class| Ok((format!("({lt} {sym} {rt})"), class));
        use BinaryOperator as B;
        match op {
            B::And | B::Or => {
                if !matches!(lc, Class::Bool | Class::Null)
                    || !matches!(rc, Class::Bool | Class::Null)
                {
                    return Err("AND/OR of values that are not booleans".into());
                }
                out(if *op == B::And { "AND" } else { "OR" }, Class::Bool)
            }
            B::Eq | B::NotEq => {
                same_for_equality(lc, rc)?;
                out(if *op == B::Eq { "=" } else { "<>" }, Class::Bool)
            }
            B::Lt | B::LtEq | B::Gt | B::GtEq => {
                self.orderable(lc)?;
                self.orderable(rc)?;
                same_for_equality(lc, rc)?;
                out(&op.to_string(), Class::Bool)
            }
            B::Plus | B::Minus | B::Multiply => {
                if !matches!(lc, Class::Num | Class::Null)
                    || !matches!(rc, Class::Num | Class::Null)
                {
                    return Err(format!(
                        "it applies {op} to values that are not numbers in SQLite"
                    ));
                }
                out(&op.to_string(), Class::Num)
            }
            B::StringConcat => {
                if !matches!(lc, Class::Str | Class::Null)
                    || !matches!(rc, Class::Str | Class::Null)
                {
                    return Err("it concatenates values that are not text, which SQLite renders differently".into());
                }
                out("||", Class::Str)
            }
            _ => Err(format!("it uses the operator {op}, which pg2lite does not carry over")),
        }
    }

    fn case(
        &self,
        operand: Option<&Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&Expr>,
        cx: &Cx,
        d: usize,
    ) -> Tr<(String, Class)> {
        let mut sql = String::from("CASE");
        let op_class = match operand {
            Some(o) => {
                let (t, c) = self.expr(o, cx, d)?;
                sql.push(' ');
                sql.push_str(&t);
                Some(c)
            }
            None => None,
        };
        let mut class = Class::Null;
        let results = conditions.iter().map(|w| &w.result).chain(else_result);
        for w in conditions {
            let (ct, cc) = self.expr(&w.condition, cx, d)?;
            match op_class {
                Some(oc) => same_for_equality(oc, cc)?,
                None if !matches!(cc, Class::Bool | Class::Null) => {
                    return Err("a CASE condition that is not a boolean".into());
                }
                None => {}
            }
            let (rt, _) = self.expr(&w.result, cx, d)?;
            sql.push_str(&format!(" WHEN {ct} THEN {rt}"));
        }
        for r in results {
            let (_, rc) = self.expr(r, cx, d)?;
            class = merge(class, rc)?;
        }
        if let Some(e) = else_result {
            sql.push_str(&format!(" ELSE {}", self.expr(e, cx, d)?.0));
        }
        sql.push_str(" END");
        Ok((sql, class))
    }

    fn function(&self, f: &ast::Function, cx: &Cx, d: usize) -> Tr<(String, Class)> {
        if f.filter.is_some()
            || f.over.is_some()
            || !f.within_group.is_empty()
            || f.null_treatment.is_some()
            || !matches!(f.parameters, FunctionArguments::None)
        {
            return Err("it uses a window function, FILTER or WITHIN GROUP".into());
        }
        let name = match f.name.0.as_slice() {
            [ast::ObjectNamePart::Identifier(i)] => i.value.to_lowercase(),
            _ => return Err(format!("it calls {}, a function SQLite does not have", f.name)),
        };
        let FunctionArguments::List(list) = &f.args else {
            return Err(format!("it calls {name} without an argument list"));
        };
        if !list.clauses.is_empty() {
            return Err(format!("it calls {name} with ORDER BY or another clause inside"));
        }
        let distinct = match list.duplicate_treatment {
            Some(ast::DuplicateTreatment::Distinct) => "DISTINCT ",
            _ => "",
        };
        let mut args = Vec::new();
        for a in &list.args {
            match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(self.expr(e, cx, d)?),
                FunctionArg::Unnamed(FunctionArgExpr::Wildcard) if name == "count" => {
                    args.push(("*".into(), Class::Other));
                }
                _ => return Err(format!("it calls {name} with a named or wildcard argument")),
            }
        }
        let texts: Vec<String> = args.iter().map(|a| a.0.clone()).collect();
        let call = |n: &str, class| Ok((format!("{n}({distinct}{})", texts.join(", ")), class));
        match (name.as_str(), args.as_slice()) {
            ("count", [_]) => call("count", Class::Num),
            ("sum" | "avg", [(_, Class::Num)]) if distinct.is_empty() => call(&name, Class::Num),
            ("min" | "max", [(_, c)]) if distinct.is_empty() => {
                self.orderable(*c)?;
                call(&name, *c)
            }
            ("coalesce", [first, ..]) => {
                let mut class = first.1;
                for a in &args[1..] {
                    class = merge(class, a.1)?;
                }
                call("coalesce", class)
            }
            _ => Err(format!(
                "it calls {name}, which is not a function with the same meaning in SQLite"
            )),
        }
    }
}

/// The scopes of one SELECT and the view's output names.
struct Cx<'a> {
    scopes: &'a [Scope],
    outputs: &'a Vec<String>,
}

impl Cx<'_> {
    fn column(&self, table: Option<&str>, name: &str) -> Tr<(String, Class)> {
        let found: Vec<(&Scope, &(String, Class))> = self
            .scopes
            .iter()
            .filter(|s| table.is_none_or(|t| s.alias == t))
            .filter_map(|s| s.columns.get(name).map(|c| (s, c)))
            .collect();
        match found.as_slice() {
            [(s, (col, class))] => {
                Ok((format!("{}.{}", quote_ident(&s.alias), quote_ident(col)), *class))
            }
            [] if table.is_none() && self.outputs.iter().any(|o| o == name) => {
                Err(format!("it refers to its own output column {name}"))
            }
            [] => Err(format!(
                "it reads column {}{name}, which the SQLite file does not have",
                table.map(|t| format!("{t}.")).unwrap_or_default()
            )),
            _ => Err(format!("column {name} is ambiguous")),
        }
    }
}

fn strip_nested(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(x) => strip_nested(x),
        _ => e,
    }
}

fn literal(v: &Value) -> Tr<(String, Class)> {
    match v {
        Value::Number(n, false)
            if n.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !n.is_empty() =>
        {
            Ok((n.clone(), Class::Num))
        }
        Value::SingleQuotedString(s) => Ok((quote_literal(s), Class::Str)),
        Value::Boolean(b) => Ok(((if *b { "1" } else { "0" }).into(), Class::Bool)),
        Value::Null => Ok(("NULL".into(), Class::Null)),
        _ => Err(format!("it uses the literal {v}, which pg2lite does not carry over")),
    }
}

fn same_for_equality(a: Class, b: Class) -> Tr<()> {
    match (a, b) {
        (Class::Null, _) | (_, Class::Null) => Ok(()),
        (x, y) if x == y && x != Class::Other => Ok(()),
        _ => Err("it compares values SQLite stores differently from Postgres".into()),
    }
}

fn merge(a: Class, b: Class) -> Tr<Class> {
    match (a, b) {
        (Class::Null, c) | (c, Class::Null) => Ok(c),
        (x, y) if x == y => Ok(x),
        _ => Err("a CASE or COALESCE mixes kinds of values".into()),
    }
}

fn qualified(name: &ObjectName) -> Tr<(String, String)> {
    let parts: Vec<&str> =
        name.0.iter().filter_map(|p| p.as_ident()).map(|i| i.value.as_str()).collect();
    match parts.as_slice() {
        [s, t] if parts.len() == name.0.len() => Ok(((*s).to_owned(), (*t).to_owned())),
        _ => Err(format!("it reads {name}, which is not a schema-qualified table")),
    }
}

fn check_select_clauses(s: &Select) -> Tr<()> {
    let unsupported = s.top.is_some()
        || s.exclude.is_some()
        || s.into.is_some()
        || !s.lateral_views.is_empty()
        || s.prewhere.is_some()
        || !s.cluster_by.is_empty()
        || !s.distribute_by.is_empty()
        || !s.sort_by.is_empty()
        || !s.named_window.is_empty()
        || s.qualify.is_some()
        || s.value_table_mode.is_some()
        || s.connect_by.is_some();
    if unsupported {
        Err("it uses a clause SQLite lacks (WINDOW, INTO, ...)".into())
    } else {
        Ok(())
    }
}

/// A short name for an expression's kind, for the note.
fn describe(e: &Expr) -> String {
    let debug = format!("{e:?}");
    let kind: String = debug.chars().take_while(|c| c.is_alphanumeric()).collect();
    match kind.as_str() {
        "" => "an expression".into(),
        k => format!("an expression of kind {k}"),
    }
}

/// The views, then the notes that belong to no table (views, routines, extensions, ...), for
/// the end of `pg2lite schema`'s script.
pub fn ddl(plan: &super::Plan) -> String {
    let mut out = String::new();
    if !plan.views.is_empty() {
        out.push_str("\n-- Views, each after the views it reads.\n");
        for v in &plan.views {
            out.push_str(v);
            out.push('\n');
        }
    }
    let tables: Vec<String> =
        plan.tables.iter().map(|t| super::names::pg_qualified(&t.source)).collect();
    let loose: Vec<&Note> = plan.notes.iter().filter(|n| !tables.contains(&n.table)).collect();
    if !loose.is_empty() {
        out.push_str("\n-- Objects not carried over:\n");
        for n in loose {
            out.push_str(&format!("-- note: {}\n", n.to_string().replace(['\n', '\r'], " ")));
        }
    }
    out
}

/// The longest view definition read; Postgres' own are far shorter.
const MAX_DEFINITION: usize = 256 * 1024;
/// How deep the parser may nest; the walk below recurses no deeper than the tree.
pub const MAX_RECURSION: usize = 40;

/// A view definition that `pg_get_viewdef` cannot have written.
#[derive(Debug, thiserror::Error)]
#[error(
    "view {view}: its definition in the manifest is not a single SELECT ({why}); pg_get_viewdef \
     never writes that, so the export was altered: nothing is executed from it. Export again \
     with pg2lite export"
)]
pub struct HostileView {
    /// The view, `schema.name`.
    pub view: String,
    /// What in the definition is not a single SELECT.
    pub why: String,
}

impl ViewDef {
    /// Parses a definition: `Ok(Err(why))` when sqlparser cannot read it (a note), `Err` when it
    /// is not one SELECT (the manifest was altered).
    pub fn parse(&self) -> Result<Result<Query, String>, HostileView> {
        let v = self;
        let hostile = |why: &str| HostileView { view: v.display_name(), why: why.into() };
        if v.definition.len() > MAX_DEFINITION {
            return Err(hostile("it is longer than any definition Postgres writes"));
        }
        let dialect = PostgreSqlDialect {};
        let parsed = Parser::new(&dialect)
            .with_recursion_limit(MAX_RECURSION)
            .try_with_sql(&v.definition)
            .and_then(|mut p| p.parse_statements());
        let mut statements = match parsed {
            Ok(s) => s,
            Err(e) => return Ok(Err(format!("its definition does not parse here: {e}"))),
        };
        if statements.len() != 1 {
            return Err(hostile(&format!("it holds {} statements", statements.len())));
        }
        match statements.pop() {
            Some(Statement::Query(q)) => Ok(Ok(*q)),
            _ => Err(hostile("it is not a query")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{col, table, ty, with_pk};
    use super::super::{ExportFacts, Plan, SchemaFlags, plan as plan_schema};
    use crate::model::objects::{Objects, ViewColumn, ViewDef};

    type Result = std::result::Result<(), Box<dyn std::error::Error>>;

    fn view(name: &str, columns: &[&str], definition: &str) -> ViewDef {
        ViewDef {
            schema: "public".into(),
            name: name.into(),
            columns: columns
                .iter()
                .map(|c| ViewColumn { name: (*c).into(), ty: "integer".into() })
                .collect(),
            definition: definition.into(),
        }
    }

    fn planned(views: Vec<ViewDef>) -> std::result::Result<Plan, super::super::Error> {
        let t = with_pk(
            table(
                "s",
                "t",
                vec![col("id", ty("int4")), col("name", ty("text")), col("at", ty("timestamp"))],
            ),
            &["id"],
        );
        let objects = Objects { views, collation: "C".into(), ..Objects::default() };
        let facts = ExportFacts { objects, ..ExportFacts::default() };
        plan_schema(&[t], &SchemaFlags::default(), &facts)
    }

    #[test]
    fn a_view_on_a_view_is_created_after_it_with_renamed_tables_and_quoted_names() -> Result {
        let p = planned(vec![
            view("top", &["id"], "SELECT b.id FROM public.base b WHERE b.id > 1"),
            view("base", &["id", "n"], "SELECT t.id, t.name FROM s.t WHERE t.name = 'x'"),
        ])?;
        assert_eq!(p.views.len(), 2, "{:?}", p.notes);
        assert!(p.views[0].starts_with("CREATE VIEW \"base\" (\"id\", \"n\") AS SELECT"));
        assert!(p.views[0].contains("FROM \"s_t\" AS \"t\" WHERE (\"t\".\"name\" = 'x')"));
        assert!(p.views[1].starts_with("CREATE VIEW \"top\""));
        let conn = rusqlite::Connection::open_in_memory()?;
        conn.execute_batch(&p.tables[0].create_table)?;
        for v in &p.views {
            conn.execute_batch(v)?;
        }
        conn.execute_batch(
            "INSERT INTO s_t VALUES (1, 'x', NULL), (2, 'x', NULL), (3, 'y', NULL)",
        )?;
        let n: i64 = conn.query_row("SELECT count(*) FROM top", [], |r| r.get(0))?;
        assert_eq!(n, 1);
        Ok(())
    }

    #[test]
    fn views_whose_meaning_differs_are_listed_with_the_construct_that_stopped_them() -> Result {
        let cases = [
            ("SELECT upper(t.name) FROM s.t", "it calls upper"),
            ("SELECT t.id / 2 FROM s.t", "the operator /"),
            ("SELECT t.id FROM s.t WHERE t.name LIKE 'a%'", "LIKE"),
            ("SELECT t.id FROM s.t WHERE t.at > '2020-01-01'::timestamp", "casts to timestamp"),
            ("SELECT t.id FROM s.t ORDER BY t.at", "orders or compares"),
            ("SELECT t.id FROM s.missing t", "s.missing, which is not carried over"),
            ("SELECT x.id FROM (SELECT t.id FROM s.t) x", "subquery"),
            ("SELECT t.id FROM s.t UNION SELECT t.id FROM s.t", "set operation"),
        ];
        for (definition, why) in cases {
            let p = planned(vec![view("v", &["id"], definition)])?;
            assert!(p.views.is_empty(), "{definition}: {:?}", p.views);
            let note = p.notes.iter().find(|n| n.table == "public.v").expect("a note");
            assert!(note.why.contains(why), "{definition}: expected {why:?}, got {note}");
        }
        Ok(())
    }

    #[test]
    fn a_view_whose_sqlite_name_is_taken_is_listed_not_created() -> Result {
        let mut other = view("t", &["id"], "SELECT t.id FROM s.t");
        other.schema = "s_t".into();
        let mut first = view("t_t", &["id"], "SELECT t.id FROM s.t");
        first.schema = "s".into();
        let p = planned(vec![view("S_T", &["id"], "SELECT t.id FROM s.t"), first, other])?;
        assert_eq!(p.views.len(), 1, "{:?}", p.views);
        let taken: Vec<_> = p.notes.iter().filter(|n| n.why.contains("already")).collect();
        assert_eq!(taken.len(), 2, "{:?}", p.notes);
        Ok(())
    }

    #[test]
    fn a_definition_that_is_not_one_select_is_an_error_and_deep_nesting_is_a_note() -> Result {
        for smuggled in ["SELECT 1; DROP TABLE t", "ATTACH 'x' AS y", "PRAGMA foreign_keys = 0"] {
            let e = planned(vec![view("v", &["a"], smuggled)]).expect_err(smuggled);
            assert!(e.to_string().contains("is not a single SELECT"), "{smuggled}: {e}");
        }
        let deep = format!("SELECT {}1{} FROM s.t", "(".repeat(5000), ")".repeat(5000));
        let p = planned(vec![view("v", &["a"], &deep)])?;
        assert!(p.views.is_empty() && p.notes.iter().any(|n| n.table == "public.v"));
        Ok(())
    }
}
