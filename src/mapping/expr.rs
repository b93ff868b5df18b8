//! Postgres expressions as `pg_get_expr` and `pg_get_constraintdef` print them (defaults,
//! CHECK constraints, index predicates and index keys), parsed into a small tree and
//! translated to SQLite only where the meaning is provably the same.
//!
//! "The same" is judged by the storage SQLite gets (see `transform::Conversion`): numbers
//! compare as numbers only in INTEGER/REAL columns; text compares for equality only where
//! Postgres' equality is byte equality (text, varchar, name, uuid, enum labels); ordering of
//! text (collations), of enums (declaration order) and of timestamps stored as TEXT (expanded
//! years, `infinity`) differs, so those are refused, as is every function but a handful.
//! What is refused comes back as `Err(why)`, which the planner turns into a note.
//!
//! Depth is bounded everywhere, since an expression comes from a manifest anyone may have
//! written: the parser refuses nesting deeper than [`MAX_NESTING`] (so no walk over a tree,
//! its `Drop` included, can exhaust the stack), AND and OR are flat n-ary lists (a CHECK of
//! 6,000 ORs is one node with 6,000 children, not 6,000 nested ones), and what is emitted
//! must fit SQLite's parser: see [`MAX_SQLITE_HEIGHT`] and [`MAX_SQLITE_NESTING`].

use super::names::{quote_ident, quote_literal};
use crate::mapping::Conversion;

/// A parsed expression. Only the forms pg2lite can translate have their own variant.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Column(String),
    Str(String),
    /// An unsigned numeric literal, as written.
    Num(String),
    Bool(bool),
    Null,
    Neg(Box<Expr>),
    /// `expr::type`, the type as written, lower-cased (`character varying(10)`, `text[]`).
    Cast(Box<Expr>, String),
    /// A function call; the name as written, qualified when it was (`public.f`).
    Func(String, Vec<Expr>),
    /// `CURRENT_TIMESTAMP` and the other SQL value keywords, upper-cased.
    Keyword(String),
    Array(Vec<Expr>),
    Not(Box<Expr>),
    /// Two or more conditions, all of which hold (flat: never an `And` directly inside).
    And(Vec<Expr>),
    /// Two or more conditions, one of which holds (flat: never an `Or` directly inside).
    Or(Vec<Expr>),
    Cmp(Box<Expr>, String, Box<Expr>),
    /// `left op ANY (right)` or `left op ALL (right)`.
    Quantified {
        left: Box<Expr>,
        op: String,
        all: bool,
        right: Box<Expr>,
    },
    IsNull(Box<Expr>, bool),
}

impl Expr {
    /// The expression under any casts, with the innermost cast's type.
    pub(super) fn uncast(&self) -> (&Expr, Option<&str>) {
        let mut e = self;
        let mut ty = None;
        while let Expr::Cast(inner, t) = e {
            ty = Some(t.as_str());
            e = inner;
        }
        (e, ty)
    }

    /// The column names the expression mentions, in order of appearance (repeats included),
    /// found without recursion.
    pub(super) fn columns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut todo = vec![self];
        while let Some(e) = todo.pop() {
            match e {
                Expr::Column(c) => out.push(c.as_str()),
                Expr::Neg(x) | Expr::Cast(x, _) | Expr::Not(x) | Expr::IsNull(x, _) => todo.push(x),
                Expr::Func(_, xs) | Expr::Array(xs) | Expr::And(xs) | Expr::Or(xs) => {
                    todo.extend(xs.iter().rev());
                }
                Expr::Cmp(a, _, b) | Expr::Quantified { left: a, right: b, .. } => {
                    todo.push(b);
                    todo.push(a);
                }
                Expr::Str(_) | Expr::Num(_) | Expr::Bool(_) | Expr::Null | Expr::Keyword(_) => {}
            }
        }
        out
    }
}

/// How deeply a parsed expression may nest (parentheses, NOT, signs, casts, calls): far
/// beyond what Postgres prints for any real constraint, and shallow enough that every
/// recursive walk over the tree stays within a small thread stack. Deeper is refused.
pub(super) const MAX_NESTING: usize = 100;

/// The tallest expression tree (as SQLite's parser counts it: a chain of n ORs is n high)
/// pg2lite emits: half SQLite's default `SQLITE_MAX_EXPR_DEPTH` of 1000, leaving room for
/// what SQLite adds when it codes a constraint.
pub(super) const MAX_SQLITE_HEIGHT: usize = 500;

/// The deepest parenthesis nesting pg2lite emits. sqlite3 before 3.46 parses with a fixed
/// stack of 100 entries, which a condition nested about 30 deep overflows (measured with
/// sqlite3 3.40: `(a OR (b OR (...)))` fails at 31 levels, `NOT (NOT (...))` at 46); such a
/// CHECK would make the whole file unreadable to those versions.
pub(super) const MAX_SQLITE_NESTING: usize = 24;

/// How many terms an emitted AND or OR chain holds before it is grouped in parentheses:
/// SQLite's parser builds a chain left-deep, so 1,500 ORs in one chain are 1,500 high, over
/// its limit, while groups of 16 keep any chain a few dozen high.
const CHAIN: usize = 16;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Str(String),
    Num(String),
    Op(String),
    Cast,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
}

const KEYWORDS: &[&str] = &[
    "CURRENT_TIMESTAMP",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "LOCALTIMESTAMP",
    "LOCALTIME",
    "CURRENT_USER",
    "SESSION_USER",
    "CURRENT_ROLE",
    "CURRENT_CATALOG",
    "CURRENT_SCHEMA",
    "SYSTEM_USER",
    "USER",
];

/// Words that end a type name after `::`.
const TYPE_STOP: &[&str] = &[
    "and", "or", "is", "not", "in", "like", "ilike", "similar", "between", "collate", "asc",
    "desc", "nulls", "any", "all", "some", "then", "else", "end", "when", "from", "isnull",
    "notnull",
];

/// Parses an expression.
///
/// # Errors
/// `Err(why)` for anything outside the grammar this module knows.
pub(super) fn parse(text: &str) -> Result<Expr, String> {
    if text.contains('\0') {
        return Err("a NUL character, which no Postgres expression holds".into());
    }
    let toks = tokenize(text)?;
    let mut p = Parser { toks, pos: 0, depth: 0 };
    let e = p.or()?;
    match p.peek() {
        None => Ok(e),
        Some(t) => Err(format!("unexpected {} in the expression", describe(t))),
    }
}

/// Adds `term` to an OR chain (`or`) or an AND chain, splicing in a chain of the same kind
/// (`(a OR b) OR c` is one chain of three), so chains never nest in themselves.
fn flatten_into(terms: &mut Vec<Expr>, term: Expr, or: bool) {
    match term {
        Expr::Or(inner) if or => terms.extend(inner),
        Expr::And(inner) if !or => terms.extend(inner),
        other => terms.push(other),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) | Tok::Quoted(s) | Tok::Num(s) | Tok::Op(s) => format!("{s:?}"),
        Tok::Str(s) => format!("'{s}'"),
        other => format!("{other:?}"),
    }
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let (tok, next) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '\'' => quoted(&chars, i, '\'').map(|(s, n)| (Tok::Str(s), n))?,
            '"' => quoted(&chars, i, '"').map(|(s, n)| (Tok::Quoted(s), n))?,
            '(' => (Tok::LParen, i + 1),
            ')' => (Tok::RParen, i + 1),
            '[' => (Tok::LBracket, i + 1),
            ']' => (Tok::RBracket, i + 1),
            ',' => (Tok::Comma, i + 1),
            '.' if !chars.get(i + 1).is_some_and(char::is_ascii_digit) => (Tok::Dot, i + 1),
            ':' if chars.get(i + 1) == Some(&':') => (Tok::Cast, i + 2),
            c if c.is_ascii_digit() || c == '.' => number_token(&chars, i),
            c if c.is_alphabetic() || c == '_' => word(&chars, i),
            c if "+-*/<>=~!@#%^&|`?".contains(c) => operator(&chars, i),
            c => return Err(format!("unexpected character {c:?}")),
        };
        toks.push(tok);
        i = next;
    }
    Ok(toks)
}

/// A `'…'` string or `"…"` identifier starting at `i`, with doubled quotes undone.
fn quoted(chars: &[char], i: usize, q: char) -> Result<(String, usize), String> {
    let mut s = String::new();
    let mut j = i + 1;
    loop {
        match chars.get(j) {
            Some(&c) if c == q && chars.get(j + 1) == Some(&q) => {
                s.push(q);
                j += 2;
            }
            Some(&c) if c == q => return Ok((s, j + 1)),
            Some(&c) => {
                s.push(c);
                j += 1;
            }
            None => return Err("unterminated quote".into()),
        }
    }
}

fn number_token(chars: &[char], i: usize) -> (Tok, usize) {
    let mut j = i;
    while j < chars.len() {
        let c = chars[j];
        let exp_sign =
            (c == '+' || c == '-') && matches!(chars.get(j.wrapping_sub(1)), Some('e' | 'E'));
        if !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || exp_sign) {
            break;
        }
        j += 1;
    }
    (Tok::Num(chars[i..j].iter().collect()), j)
}

fn word(chars: &[char], i: usize) -> (Tok, usize) {
    let mut j = i;
    while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '$') {
        j += 1;
    }
    (Tok::Ident(chars[i..j].iter().collect()), j)
}

fn operator(chars: &[char], i: usize) -> (Tok, usize) {
    let mut j = i;
    while j < chars.len() && "+-*/<>=~!@#%^&|`?".contains(chars[j]) {
        j += 1;
    }
    // `-` right after another operator is a sign: `x >= -1`.
    if j - i > 1 && chars[j - 1] == '-' {
        j -= 1;
    }
    (Tok::Op(chars[i..j].iter().collect()), j)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// How deeply the tree being built nests at this point; see [`MAX_NESTING`].
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        let yes = self.keyword(word);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect(&mut self, tok: Tok) -> Result<(), String> {
        match self.next() {
            Some(t) if t == tok => Ok(()),
            Some(t) => Err(format!("expected {tok:?}, found {}", describe(&t))),
            None => Err(format!("expected {tok:?} at the end")),
        }
    }

    /// Runs `f` one level deeper, refusing to go past [`MAX_NESTING`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        if self.depth >= MAX_NESTING {
            return Err(format!("it nests more than {MAX_NESTING} levels deep"));
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    /// A nested full expression: inside parentheses, a call's arguments, ANY (...).
    fn inner(&mut self) -> Result<Expr, String> {
        self.nested(Self::or)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let first = self.and()?;
        if !self.keyword("or") {
            return Ok(first);
        }
        let mut terms = Vec::new();
        flatten_into(&mut terms, first, true);
        while self.eat_keyword("or") {
            let term = self.and()?;
            flatten_into(&mut terms, term, true);
        }
        Ok(Expr::Or(terms))
    }

    fn and(&mut self) -> Result<Expr, String> {
        let first = self.not()?;
        if !self.keyword("and") {
            return Ok(first);
        }
        let mut terms = Vec::new();
        flatten_into(&mut terms, first, false);
        while self.eat_keyword("and") {
            let term = self.not()?;
            flatten_into(&mut terms, term, false);
        }
        Ok(Expr::And(terms))
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.eat_keyword("not") {
            return self.nested(|p| Ok(Expr::Not(Box::new(p.not()?))));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.unary()?;
        if self.eat_keyword("is") {
            let negated = self.eat_keyword("not");
            if !self.eat_keyword("null") {
                return Err("only IS NULL and IS NOT NULL are understood".into());
            }
            return Ok(Expr::IsNull(Box::new(left), negated));
        }
        let op = match self.peek() {
            Some(Tok::Op(op)) if ["=", "<>", "!=", "<", "<=", ">", ">="].contains(&op.as_str()) => {
                op.clone()
            }
            Some(Tok::Op(op)) => return Err(format!("operator {op} is not translated")),
            _ => return Ok(left),
        };
        self.pos += 1;
        for (word, all) in [("any", false), ("some", false), ("all", true)] {
            if self.eat_keyword(word) {
                self.expect(Tok::LParen)?;
                let right = Box::new(self.inner()?);
                self.expect(Tok::RParen)?;
                return Ok(Expr::Quantified { left: Box::new(left), op, all, right });
            }
        }
        Ok(Expr::Cmp(Box::new(left), op, Box::new(self.unary()?)))
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if matches!(self.peek(), Some(Tok::Op(op)) if op == "-") {
            self.pos += 1;
            return self.nested(|p| Ok(Expr::Neg(Box::new(p.unary()?))));
        }
        let mut e = self.primary()?;
        let mut casts = 0;
        while self.peek() == Some(&Tok::Cast) {
            self.pos += 1;
            casts += 1;
            if self.depth + casts > MAX_NESTING {
                return Err(format!("it nests more than {MAX_NESTING} levels deep"));
            }
            e = Expr::Cast(Box::new(e), self.type_name()?);
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.inner()?;
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            Some(Tok::Str(s)) => Ok(Expr::Str(s)),
            Some(Tok::Num(n)) => Ok(Expr::Num(n)),
            Some(Tok::Ident(w)) => self.word(w),
            Some(Tok::Quoted(name)) => self.name(name),
            Some(t) => Err(format!("unexpected {}", describe(&t))),
            None => Err("the expression ends too early".into()),
        }
    }

    fn word(&mut self, w: String) -> Result<Expr, String> {
        let upper = w.to_ascii_uppercase();
        match upper.as_str() {
            "TRUE" => return Ok(Expr::Bool(true)),
            "FALSE" => return Ok(Expr::Bool(false)),
            "NULL" => return Ok(Expr::Null),
            "ARRAY" if self.peek() == Some(&Tok::LBracket) => return self.array(),
            k if KEYWORDS.contains(&k) => {
                if self.peek() == Some(&Tok::LParen) {
                    self.skip_parenthesized()?;
                }
                return Ok(Expr::Keyword(upper));
            }
            _ => {}
        }
        self.name(w)
    }

    /// A column, or a function call (maybe schema-qualified).
    fn name(&mut self, first: String) -> Result<Expr, String> {
        let mut name = first;
        if self.peek() == Some(&Tok::Dot) {
            self.pos += 1;
            match self.next() {
                Some(Tok::Ident(n) | Tok::Quoted(n)) => name = format!("{name}.{n}"),
                _ => return Err("a qualified name ends early".into()),
            }
        }
        if self.peek() != Some(&Tok::LParen) {
            if name.contains('.') {
                return Err(format!("qualified column {name} is not understood"));
            }
            return Ok(Expr::Column(name));
        }
        self.pos += 1;
        let args = self.list(Tok::RParen)?;
        Ok(Expr::Func(name, args))
    }

    fn array(&mut self) -> Result<Expr, String> {
        self.expect(Tok::LBracket)?;
        Ok(Expr::Array(self.list(Tok::RBracket)?))
    }

    /// Comma-separated expressions up to `close` (consumed).
    fn list(&mut self, close: Tok) -> Result<Vec<Expr>, String> {
        let mut items = Vec::new();
        if self.peek() == Some(&close) {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            items.push(self.inner()?);
            match self.next() {
                Some(Tok::Comma) => {}
                Some(t) if t == close => return Ok(items),
                _ => return Err("a list is not closed".into()),
            }
        }
    }

    fn skip_parenthesized(&mut self) -> Result<String, String> {
        let mut depth = 0;
        let mut text = String::new();
        loop {
            let t = self.next().ok_or("unbalanced parentheses")?;
            match &t {
                Tok::LParen => depth += 1,
                Tok::RParen => depth -= 1,
                _ => {}
            }
            text.push_str(&match &t {
                Tok::LParen => "(".into(),
                Tok::RParen => ")".into(),
                Tok::Comma => ",".into(),
                Tok::Num(n) | Tok::Ident(n) => n.clone(),
                other => describe(other),
            });
            if depth == 0 {
                return Ok(text);
            }
        }
    }

    /// A type name after `::`: words, a qualifier, modifiers and `[]`s.
    fn type_name(&mut self) -> Result<String, String> {
        let mut ty = String::new();
        loop {
            match self.peek().cloned() {
                Some(Tok::Ident(w)) if !TYPE_STOP.contains(&w.to_ascii_lowercase().as_str()) => {
                    if !ty.is_empty() && !ty.ends_with('.') {
                        ty.push(' ');
                    }
                    ty.push_str(&w.to_ascii_lowercase());
                }
                Some(Tok::Quoted(w)) => ty.push_str(&w),
                Some(Tok::Dot) if !ty.is_empty() => ty.push('.'),
                Some(Tok::LParen) if !ty.is_empty() => {
                    ty.push_str(&self.skip_parenthesized()?);
                    continue;
                }
                Some(Tok::LBracket) if !ty.is_empty() => {
                    self.pos += 1;
                    self.expect(Tok::RBracket)?;
                    ty.push_str("[]");
                    continue;
                }
                _ => break,
            }
            self.pos += 1;
        }
        if ty.is_empty() { Err("a cast names no type".into()) } else { Ok(ty) }
    }
}

/// How a column's SQLite values compare, which decides what may be translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// INTEGER or REAL holding the exact value: every comparison keeps its meaning.
    Number,
    /// 0/1: equality.
    Bool,
    /// TEXT whose Postgres equality is byte equality: equality, not ordering.
    Text,
    /// Anything else: only IS NULL.
    Other,
}

/// What the type named in a cast makes of a literal or a column.
fn type_class(ty: &str) -> Class {
    if ty.ends_with("[]") {
        return Class::Other;
    }
    let base = ty.split('(').next().unwrap_or(ty).trim();
    match base {
        "smallint" | "integer" | "bigint" | "int" | "int2" | "int4" | "int8" | "numeric"
        | "decimal" | "real" | "double precision" | "float4" | "float8" | "oid" => Class::Number,
        "text" | "character varying" | "varchar" | "name" | "uuid" => Class::Text,
        "boolean" | "bool" => Class::Bool,
        // A user type (qualified, since the export's search_path is empty): an enum label.
        b if b.contains('.') && !b.ends_with("citext") => Class::Text,
        _ => Class::Other,
    }
}

/// The columns an expression may refer to.
pub(super) struct Scope<'a> {
    pub columns: &'a [ScopeColumn],
}

#[derive(Debug, Clone)]
pub(super) struct ScopeColumn {
    /// Postgres name.
    pub source: String,
    pub sqlite: String,
    pub class: Class,
}

impl ScopeColumn {
    /// The class of a column of Postgres base type `base` (None for arrays, composites) stored
    /// by `conv`. `exact_real` says whether a numeric stored as REAL keeps its exact value.
    pub(super) fn class_of(
        base: Option<&str>,
        is_enum: bool,
        conv: Conversion,
        exact_real: bool,
    ) -> Class {
        use crate::mapping::NumericTarget as N;
        match conv {
            Conversion::Integer | Conversion::Float | Conversion::Numeric(N::Integer) => {
                Class::Number
            }
            Conversion::Numeric(N::Real) if exact_real => Class::Number,
            Conversion::Boolean => Class::Bool,
            Conversion::Text if is_enum => Class::Text,
            Conversion::Text if matches!(base, Some("text" | "varchar" | "name" | "uuid")) => {
                Class::Text
            }
            _ => Class::Other,
        }
    }
}

/// A translated operand: its SQLite text, how it compares, whether it is a constant, and
/// its height as SQLite's parser will count it.
struct Operand {
    sql: String,
    class: Class,
    literal: bool,
    height: usize,
}

/// A translated condition and its height (see [`MAX_SQLITE_HEIGHT`]).
struct Rendered {
    sql: String,
    height: usize,
}

impl Scope<'_> {
    fn column(&self, name: &str) -> Result<&ScopeColumn, String> {
        self.columns.iter().find(|c| c.source == name).ok_or_else(|| {
            format!("it refers to {name}, which is not a column of the SQLite table")
        })
    }

    /// A boolean expression (a CHECK or an index predicate) in SQLite.
    ///
    /// # Errors
    /// `Err(why)` when its meaning would differ in SQLite, or when SQLite could not parse it
    /// (taller than [`MAX_SQLITE_HEIGHT`], nested deeper than [`MAX_SQLITE_NESTING`]).
    pub(super) fn predicate(&self, e: &Expr) -> Result<String, String> {
        let r = self.condition(e)?;
        if r.height > MAX_SQLITE_HEIGHT {
            return Err(format!(
                "in SQLite it would be an expression {} levels high, more than the {} that \
                 pg2lite emits (SQLite refuses more than 1000)",
                r.height, MAX_SQLITE_HEIGHT
            ));
        }
        let nesting = paren_nesting(&r.sql);
        if nesting > MAX_SQLITE_NESTING {
            return Err(format!(
                "in SQLite it would nest {nesting} parentheses deep, more than the \
                 {MAX_SQLITE_NESTING} that sqlite3 before 3.46 can read"
            ));
        }
        Ok(r.sql)
    }

    fn condition(&self, e: &Expr) -> Result<Rendered, String> {
        match e {
            Expr::And(terms) => self.chain(terms, "AND"),
            Expr::Or(terms) => self.chain(terms, "OR"),
            Expr::Not(a) => {
                let r = self.condition(a)?;
                Ok(Rendered { sql: format!("(NOT {})", r.sql), height: r.height + 1 })
            }
            Expr::IsNull(x, negated) => self.is_null(x, *negated),
            Expr::Cmp(a, op, b) => self.compare(a, op, b),
            Expr::Quantified { left, op, all, right } => self.in_list(left, op, *all, right),
            other => {
                let o = self.operand(other)?;
                if o.class != Class::Bool {
                    return Err("a condition that is not a boolean column".into());
                }
                Ok(Rendered { sql: o.sql, height: o.height })
            }
        }
    }

    /// `(a OR b OR ...)`, grouped by [`CHAIN`] terms so that no chain SQLite builds is long.
    fn chain(&self, terms: &[Expr], word: &str) -> Result<Rendered, String> {
        let mut parts = terms.iter().map(|t| self.condition(t)).collect::<Result<Vec<_>, _>>()?;
        while parts.len() > CHAIN {
            parts = parts.chunks(CHAIN).map(|group| joined(group, word)).collect();
        }
        Ok(joined(&parts, word))
    }

    fn is_null(&self, x: &Expr, negated: bool) -> Result<Rendered, String> {
        let o = self.operand(x)?;
        if o.literal {
            return Err("IS NULL of a constant".into());
        }
        let sql = format!("{} IS {}NULL", o.sql, if negated { "NOT " } else { "" });
        Ok(Rendered { sql, height: o.height + 1 })
    }

    fn compare(&self, a: &Expr, op: &str, b: &Expr) -> Result<Rendered, String> {
        let (l, r) = (self.operand(a)?, self.operand(b)?);
        check_comparable(&l, op, &r)?;
        let op = if op == "!=" { "<>" } else { op };
        Ok(Rendered {
            sql: format!("{} {op} {}", l.sql, r.sql),
            height: l.height.max(r.height) + 1,
        })
    }

    /// `x = ANY (ARRAY[...])` → `x IN (...)`; `x <> ALL (ARRAY[...])` → `x NOT IN (...)`.
    fn in_list(&self, left: &Expr, op: &str, all: bool, right: &Expr) -> Result<Rendered, String> {
        let negate = match (op, all) {
            ("=", false) => false,
            ("<>" | "!=", true) => true,
            _ => {
                return Err(format!(
                    "{op} {} of an array is not translated",
                    if all { "ALL" } else { "ANY" }
                ));
            }
        };
        let Expr::Array(items) = right.uncast().0 else {
            return Err("ANY/ALL of something other than an ARRAY[...] of constants".into());
        };
        let l = self.operand(left)?;
        let mut sql = Vec::with_capacity(items.len());
        let mut height = l.height;
        for item in items {
            let r = self.operand(item)?;
            check_comparable(&l, "=", &r)?;
            if !r.literal {
                return Err("ANY/ALL of an array holding columns".into());
            }
            height = height.max(r.height);
            sql.push(r.sql);
        }
        let not = if negate { "NOT " } else { "" };
        Ok(Rendered { sql: format!("{} {not}IN ({})", l.sql, sql.join(", ")), height: height + 1 })
    }

    /// An index key given as an expression: a column (maybe cast to its own class), or
    /// `lower`/`upper` of a text column.
    ///
    /// # Errors
    /// `Err(why)` for any other expression.
    pub(super) fn index_key(&self, e: &Expr) -> Result<String, String> {
        if let Expr::Func(name, args) = e {
            let f = name.to_ascii_lowercase();
            if let (true, [arg]) = (f == "lower" || f == "upper", args.as_slice()) {
                let o = self.operand(arg)?;
                if o.class == Class::Text && !o.literal {
                    return Ok(format!("{f}({})", o.sql));
                }
            }
            return Err(format!("function {name}() has no SQLite equivalent with the same result"));
        }
        let o = self.operand(e)?;
        if o.literal {
            return Err("a constant index key".into());
        }
        Ok(o.sql)
    }

    fn operand(&self, e: &Expr) -> Result<Operand, String> {
        let lit = |sql: String, class| Ok(Operand { sql, class, literal: true, height: 1 });
        match e {
            Expr::Column(name) => {
                let c = self.column(name)?;
                let sql = quote_ident(&c.sqlite);
                Ok(Operand { sql, class: c.class, literal: false, height: 1 })
            }
            Expr::Cast(inner, ty) => self.cast(inner, ty),
            Expr::Str(s) => lit(quote_literal(s), Class::Text),
            Expr::Num(n) => lit(numeric_constant(n)?, Class::Number),
            Expr::Neg(inner) => match &**inner {
                Expr::Num(n) => {
                    let sql = format!("-{}", numeric_constant(n)?);
                    Ok(Operand { sql, class: Class::Number, literal: true, height: 2 })
                }
                _ => Err("negation of something other than a number".into()),
            },
            Expr::Bool(b) => lit(if *b { "1" } else { "0" }.into(), Class::Bool),
            Expr::Func(name, args) => self.function(name, args),
            Expr::Null => Err("a NULL constant in a comparison".into()),
            _ => Err("a form that is not translated".into()),
        }
    }

    /// A cast keeps a column or value as it is when it does not change its class; a string
    /// constant takes the class of the type it is cast to (`'-1'::integer` is a number).
    fn cast(&self, inner: &Expr, ty: &str) -> Result<Operand, String> {
        let class = type_class(ty);
        if let Expr::Str(s) = inner {
            return typed_string(s, class, ty);
        }
        let o = self.operand(inner)?;
        if o.class == class && class != Class::Other {
            Ok(o)
        } else {
            Err(format!("a cast to {ty} changes how values compare"))
        }
    }

    fn function(&self, name: &str, args: &[Expr]) -> Result<Operand, String> {
        let f = name.to_ascii_lowercase();
        if let (true, [arg]) =
            (["length", "char_length", "character_length"].contains(&f.as_str()), args)
        {
            let o = self.operand(arg)?;
            if o.class == Class::Text && !o.literal {
                return Ok(Operand {
                    sql: format!("length({})", o.sql),
                    class: Class::Number,
                    literal: false,
                    height: o.height + 1,
                });
            }
        }
        Err(format!("function {name}() is not translated"))
    }
}

/// `(a OR b OR c)`: a chain SQLite builds left-deep, so as high as its tallest term plus
/// one per operator.
fn joined(parts: &[Rendered], word: &str) -> Rendered {
    let sql: Vec<&str> = parts.iter().map(|p| p.sql.as_str()).collect();
    let tallest = parts.iter().map(|p| p.height).max().unwrap_or(0);
    Rendered {
        sql: format!("({})", sql.join(&format!(" {word} "))),
        height: tallest + parts.len().saturating_sub(1),
    }
}

/// The deepest parenthesis nesting in SQLite text, quotes skipped.
pub(super) fn paren_nesting(sql: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ')') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

fn check_comparable(l: &Operand, op: &str, r: &Operand) -> Result<(), String> {
    if l.literal && r.literal {
        return Err("a comparison of two constants".into());
    }
    if l.class != r.class {
        return Err("a comparison of values of different kinds".into());
    }
    match l.class {
        Class::Number => Ok(()),
        Class::Bool | Class::Text if matches!(op, "=" | "<>" | "!=") => Ok(()),
        Class::Text => {
            Err(format!("{op} on text depends on the collation (Postgres) or on bytes (SQLite)"))
        }
        Class::Bool => Err(format!("{op} on a boolean")),
        Class::Other => {
            Err("a comparison of values whose SQLite form does not compare the same way".into())
        }
    }
}

fn typed_string(s: &str, class: Class, ty: &str) -> Result<Operand, String> {
    let sql = match class {
        Class::Number => numeric_constant(s)?,
        Class::Bool => match s {
            "t" | "true" => "1".into(),
            "f" | "false" => "0".into(),
            _ => return Err(format!("boolean constant '{s}'")),
        },
        Class::Text => quote_literal(s),
        Class::Other => return Err(format!("a constant of type {ty}")),
    };
    Ok(Operand { sql, class, literal: true, height: 1 })
}

/// A numeric constant, kept as written when it is a plain decimal (SQLite reads the same
/// syntax). `NaN` and `Infinity` are refused.
fn numeric_constant(n: &str) -> Result<String, String> {
    let digits = n.strip_prefix('-').unwrap_or(n);
    if crate::format::decimal::is_decimal(digits) {
        Ok(n.to_owned())
    } else {
        Err(format!("numeric constant {n}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Vec<ScopeColumn> {
        let col = |s: &str, class| ScopeColumn { source: s.into(), sqlite: s.into(), class };
        vec![
            col("price", Class::Number),
            col("qty", Class::Number),
            col("active", Class::Bool),
            col("status", Class::Text),
            col("email", Class::Text),
            col("created", Class::Other),
            col("Mixed", Class::Number),
        ]
    }

    fn pred(text: &str) -> Result<String, String> {
        let cols = scope();
        Scope { columns: &cols }.predicate(&parse(text)?)
    }

    #[test]
    fn deparsed_checks_and_predicates_translate_with_casts_stripped() {
        let cases = [
            ("(price >= (0)::numeric)", "\"price\" >= 0"),
            ("(qty > '-1'::integer)", "\"qty\" > -1"),
            ("(price > 1.5)", "\"price\" > 1.5"),
            ("((status)::text = 'a''b'::text)", "\"status\" = 'a''b'"),
            ("(created IS NULL)", "\"created\" IS NULL"),
            ("(email IS NOT NULL)", "\"email\" IS NOT NULL"),
            ("active", "\"active\""),
            ("(NOT active)", "(NOT \"active\")"),
            ("(active = true)", "\"active\" = 1"),
            (
                "((price > (0)::numeric) AND ((qty < 10) OR (qty IS NULL)))",
                "(\"price\" > 0 AND (\"qty\" < 10 OR \"qty\" IS NULL))",
            ),
            (
                "((status)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))",
                "\"status\" IN ('a', 'b')",
            ),
            ("(status <> ALL (ARRAY['x'::public.mood]))", "\"status\" NOT IN ('x')"),
            ("(char_length((email)::text) > 0)", "length(\"email\") > 0"),
            ("(\"Mixed\" <> 0)", "\"Mixed\" <> 0"),
            ("(qty >= -1)", "\"qty\" >= -1"),
        ];
        for (pg, sqlite) in cases {
            assert_eq!(pred(pg).as_deref(), Ok(sqlite), "for {pg}");
        }
    }

    #[test]
    fn expressions_whose_meaning_would_change_are_refused_with_a_reason() {
        let cases = [
            ("(status > 'a'::text)", "collation"),
            ("(created > '2024-01-01 00:00:00+00'::timestamp with time zone)", "type timestamp"),
            ("(price > 'NaN'::numeric)", "NaN"),
            ("((price)::text = '1'::text)", "changes how values compare"),
            ("(lower(email) = 'a'::text)", "lower() is not translated"),
            ("(tenant_id = 5)", "not a column of the SQLite table"),
            ("((price * qty) > 0)", "operator *"),
            ("(email ~~ 'a%'::text)", "operator ~~"),
            ("(status = 5)", "different kinds"),
            ("(created = created)", "does not compare the same way"),
        ];
        for (pg, why) in cases {
            match pred(pg) {
                Err(e) => {
                    assert!(e.contains(why), "for {pg}: expected a reason with {why:?}, got {e:?}")
                }
                Ok(sql) => panic!("{pg} should be refused, got {sql}"),
            }
        }
    }

    #[test]
    fn index_keys_allow_columns_and_lower_upper_of_text() {
        let cols = scope();
        let s = Scope { columns: &cols };
        let key = |t: &str| s.index_key(&parse(t).map_err(|e| e.clone())?);
        assert_eq!(key("lower((email)::text)").as_deref(), Ok("lower(\"email\")"));
        assert_eq!(key("upper(status)").as_deref(), Ok("upper(\"status\")"));
        assert!(
            key("to_tsvector('english'::regconfig, email)").unwrap_err().contains("to_tsvector")
        );
        assert!(key("lower(created)").is_err());
    }

    #[test]
    fn and_or_chains_are_flat_however_they_are_parenthesized() {
        let e = parse("((a OR b) OR (c OR (d)))").unwrap();
        let names = |xs: &[Expr]| xs.iter().map(|x| x.columns()[0].to_owned()).collect::<Vec<_>>();
        assert!(matches!(&e, Expr::Or(xs) if names(xs) == ["a", "b", "c", "d"]), "{e:?}");
        let e = parse("a AND b OR c AND d").unwrap();
        assert!(matches!(&e, Expr::Or(xs) if xs.len() == 2 && matches!(xs[0], Expr::And(_))));
        assert_eq!(e.columns(), ["a", "b", "c", "d"]);
    }

    /// Issue 12: `CHECK (v = 0 OR ... OR v = 5999)` overflowed the stack. It is one flat
    /// chain now, emitted in groups that SQLite (bundled, and 3.40's parser limits) accepts.
    #[test]
    fn a_check_of_6000_ors_translates_in_groups_that_sqlite_accepts() -> rusqlite::Result<()> {
        let terms: Vec<String> = (0..6000).map(|i| format!("(price = ({i})::numeric)")).collect();
        let text = format!("({})", terms.join(" OR "));
        let sql = pred(&text).unwrap();
        assert!(paren_nesting(&sql) <= MAX_SQLITE_NESTING, "{}", paren_nesting(&sql));
        let conn = rusqlite::Connection::open_in_memory()?;
        conn.execute_batch(&format!("CREATE TABLE t (price INTEGER, CHECK ({sql}))"))?;
        conn.execute("INSERT INTO t VALUES (5999)", [])?;
        assert!(conn.execute("INSERT INTO t VALUES (6000)", []).is_err());
        Ok(())
    }

    /// Issue 12: forged expressions 100,000 deep crashed the parser (and Drop).
    #[test]
    fn expressions_nested_past_the_limit_are_refused_in_every_form() {
        let n = 100_000;
        let forms = [
            format!("{}price > 0{}", "(".repeat(n), ")".repeat(n)),
            format!("{}active", "NOT ".repeat(n)),
            format!("price > {}1{}", "-(".repeat(n), ")".repeat(n)),
            format!("price > {}1", "- ".repeat(n)),
            format!("'1'{}", "::integer".repeat(n)),
            format!("{}email{}", "lower(".repeat(n), ")".repeat(n)),
            format!("{}1{}", "ARRAY[".repeat(n), "]".repeat(n)),
            format!("{}1{}", "price = ANY (".repeat(n), ")".repeat(n)),
        ];
        for text in forms {
            let e = parse(&text).unwrap_err();
            assert!(e.contains("levels deep"), "{}: {e}", &text[..40]);
        }
        let at_limit = format!("{}price > 0{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert!(parse(&at_limit).is_ok());
    }

    #[test]
    fn what_sqlite_cannot_parse_is_refused_with_a_reason() {
        let nots = format!("{}active{}", "NOT (".repeat(40), ")".repeat(40));
        assert!(pred(&nots).unwrap_err().contains("sqlite3 before 3.46"));
        let ok = format!("{}active{}", "NOT (".repeat(10), ")".repeat(10));
        assert!(pred(&ok).is_ok());
        assert!(parse("(a = 'x\0y')").unwrap_err().contains("NUL"));
    }

    #[test]
    fn casts_keywords_and_calls_parse_into_their_parts() {
        let e = parse("('now'::text)::timestamp(3) without time zone").unwrap();
        assert_eq!(e.uncast(), (&Expr::Str("now".into()), Some("text")));
        assert_eq!(
            parse("CURRENT_TIMESTAMP(3)").unwrap(),
            Expr::Keyword("CURRENT_TIMESTAMP".into())
        );
        assert_eq!(
            parse("public.uuid_generate_v4()").unwrap(),
            Expr::Func("public.uuid_generate_v4".into(), vec![])
        );
        let e = parse("'{}'::text[]").unwrap();
        assert_eq!(e, Expr::Cast(Box::new(Expr::Str("{}".into())), "text[]".into()));
        assert!(parse("'unterminated").is_err());
        assert!(parse("(a").is_err());
    }
}
