//! Fuzzing the expression parser with proptest, as part of `cargo test`: arbitrary text,
//! token soup close to what `pg_get_expr` prints, generated expression trees and deeply
//! nested ones must never panic or overflow the stack; whatever parses must print back (in
//! Postgres syntax, [`render`]) to text that parses to the same tree; and whatever the
//! translator accepts, SQLite must accept too. `PG2LITE_FUZZ_CASES` sets the number of cases
//! per property (default 256, a second or two; CI may run more).

use proptest::prelude::*;
use proptest::test_runner::Config;
use rusqlite::Connection;

use super::expr::{self, Class, Expr, MAX_NESTING, Scope, ScopeColumn};
use super::names::{quote_ident, quote_literal};

fn cases() -> u32 {
    std::env::var("PG2LITE_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256)
}

fn config() -> Config {
    Config { cases: cases(), failure_persistence: None, ..Config::default() }
}

/// Where an expression is printed, from loosest to tightest binding.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Level {
    Or,
    And,
    Not,
    Unary,
    Primary,
}

/// Prints a tree in the syntax [`expr::parse`] reads, with parentheses only where binding
/// needs them (so the text never nests deeper than the text it was parsed from) and every
/// name and type quoted (so case and odd characters survive).
pub(super) fn render(e: &Expr) -> String {
    at(e, Level::Or)
}

fn at(e: &Expr, level: Level) -> String {
    let (text, own) = match e {
        Expr::Or(terms) => (joined(terms, " OR ", Level::And), Level::Or),
        Expr::And(terms) => (joined(terms, " AND ", Level::Not), Level::And),
        Expr::Not(x) => (format!("NOT {}", at(x, Level::Not)), Level::Not),
        Expr::Cmp(a, op, b) => {
            (format!("{} {op} {}", at(a, Level::Unary), at(b, Level::Unary)), Level::Not)
        }
        Expr::IsNull(x, negated) => {
            let not = if *negated { "NOT " } else { "" };
            (format!("{} IS {not}NULL", at(x, Level::Unary)), Level::Not)
        }
        Expr::Quantified { left, op, all, right } => {
            let q = if *all { "ALL" } else { "ANY" };
            (format!("{} {op} {q} ({})", at(left, Level::Unary), render(right)), Level::Not)
        }
        Expr::Neg(x) => (format!("- {}", at(x, Level::Unary)), Level::Unary),
        Expr::Cast(x, ty) => {
            (format!("{}::{}", at(x, Level::Primary), quote_ident(ty)), Level::Primary)
        }
        other => (primary(other), Level::Primary),
    };
    if own < level { format!("({text})") } else { text }
}

fn joined(terms: &[Expr], word: &str, level: Level) -> String {
    terms.iter().map(|t| at(t, level)).collect::<Vec<_>>().join(word)
}

fn primary(e: &Expr) -> String {
    match e {
        Expr::Column(c) => quote_ident(c),
        Expr::Str(s) => quote_literal(s),
        Expr::Num(n) => n.clone(),
        Expr::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Expr::Null => "NULL".into(),
        Expr::Keyword(k) => k.clone(),
        Expr::Func(name, args) => format!("{}({})", quote_ident(name), list(args)),
        Expr::Array(items) => format!("ARRAY[{}]", list(items)),
        other => unreachable!("not a primary: {other:?}"),
    }
}

fn list(items: &[Expr]) -> String {
    items.iter().map(render).collect::<Vec<_>>().join(", ")
}

fn scope() -> Vec<ScopeColumn> {
    let col = |s: &str, class| ScopeColumn { source: s.into(), sqlite: s.into(), class };
    vec![
        col("n", Class::Number),
        col("b", Class::Bool),
        col("t", Class::Text),
        col("o", Class::Other),
        col("Odd \"name\"", Class::Text),
    ]
}

/// What must hold for any text: no panic; a parse prints back to the same tree; a
/// translation SQLite accepts as a CHECK and as an index predicate.
fn holds(text: &str, sqlite: &Connection) -> Result<(), TestCaseError> {
    let Ok(e) = expr::parse(text) else {
        return Ok(());
    };
    let printed = render(&e);
    let again = expr::parse(&printed);
    prop_assert_eq!(again.as_ref(), Ok(&e), "{} printed as {}", text, printed);
    let _ = e.columns();
    let cols = scope();
    let scope = Scope { columns: &cols };
    let _ = scope.index_key(&e);
    if let Ok(sql) = scope.predicate(&e) {
        let ddl = format!(
            "CREATE TABLE f (n INTEGER, b INTEGER, t TEXT, o TEXT, \"Odd \"\"name\"\"\" TEXT, \
             CHECK ({sql})); CREATE INDEX fi ON f (n) WHERE {sql}; DROP TABLE f;"
        );
        let run = sqlite.execute_batch(&ddl);
        prop_assert!(run.is_ok(), "SQLite refused {}: {:?}", sql, run);
    }
    Ok(())
}

/// Words and marks `pg_get_expr` prints, to glue into near-valid expressions.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "(",
    ")",
    "NOT",
    "AND",
    "OR",
    "n",
    "t",
    "b",
    "o",
    "\"Odd \"\"name\"\"\"",
    "ghost",
    "'s'",
    "'it''s'",
    "0",
    "1.5",
    "-",
    "::",
    "integer",
    "text",
    "numeric",
    "text[]",
    "public.mood",
    "character varying(10)",
    "=",
    "<>",
    "<",
    ">=",
    "!=",
    "*",
    "IS",
    "NULL",
    "TRUE",
    "ANY",
    "ALL",
    "ARRAY[",
    "]",
    ",",
    "lower(",
    "length(",
    "public.f(",
    "CURRENT_TIMESTAMP",
    "now()",
    "'NaN'::numeric",
    "\"",
    "'",
    "e",
    ".",
    "[",
    "~~",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.join(" "))
}

/// Generated trees, printed: they parse, so the printed-again property really runs.
fn tree() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(&["n", "t", "b", "o", "Odd \"name\""][..])
            .prop_map(|c| Expr::Column(c.into())),
        "[a-z' ]{0,6}".prop_map(Expr::Str),
        prop::sample::select(&["0", "1", "1.5", "2e3"][..]).prop_map(|n| Expr::Num(n.into())),
        any::<bool>().prop_map(Expr::Bool),
        Just(Expr::Null),
        Just(Expr::Keyword("CURRENT_DATE".into())),
    ];
    let tree = leaf.prop_recursive(6, 64, 6, |inner| {
        let types = prop::sample::select(&["integer", "text", "text[]", "public.mood"][..]);
        let ops = prop::sample::select(&["=", "<>", "<", ">="][..]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..5).prop_map(Expr::Or),
            prop::collection::vec(inner.clone(), 2..5).prop_map(Expr::And),
            inner.clone().prop_map(|x| Expr::Not(Box::new(x))),
            inner.clone().prop_map(|x| Expr::Neg(Box::new(x))),
            (inner.clone(), types).prop_map(|(x, t)| Expr::Cast(Box::new(x), t.into())),
            (inner.clone(), ops, inner.clone()).prop_map(|(a, op, b)| Expr::Cmp(
                Box::new(a),
                op.into(),
                Box::new(b)
            )),
            (inner.clone(), any::<bool>()).prop_map(|(x, n)| Expr::IsNull(Box::new(x), n)),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|a| Expr::Func("lower".into(), a)),
            (inner.clone(), prop::collection::vec(inner, 1..4)).prop_map(|(l, items)| {
                Expr::Quantified {
                    left: Box::new(l),
                    op: "=".into(),
                    all: false,
                    right: Box::new(Expr::Array(items)),
                }
            }),
        ]
    });
    tree.prop_map(|e| render(&e))
}

/// Text nested `depth` deep in one of the ways a forged manifest nests it.
fn deep() -> impl Strategy<Value = String> {
    let depth = 0..(3 * MAX_NESTING);
    (depth, 0..6usize).prop_map(|(d, how)| match how {
        0 => format!("{}n = 1{}", "(".repeat(d), ")".repeat(d)),
        1 => format!("{}b", "NOT ".repeat(d)),
        2 => format!("n = {}1{}", "-(".repeat(d), ")".repeat(d)),
        3 => format!("'x'{}", "::text".repeat(d)),
        4 => format!("{}n{}", "lower(".repeat(d), ")".repeat(d)),
        _ => vec!["n = 1"; d + 1].join(" OR "),
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics_and_what_parses_prints_back(text in any::<String>()) {
        holds(&text, &Connection::open_in_memory().unwrap())?;
    }

    #[test]
    fn near_valid_token_soup_never_panics_and_what_parses_prints_back(text in soup()) {
        holds(&text, &Connection::open_in_memory().unwrap())?;
    }

    #[test]
    fn generated_trees_parse_print_back_and_translate_to_what_sqlite_accepts(text in tree()) {
        prop_assert!(expr::parse(&text).is_ok(), "{} does not parse", text);
        holds(&text, &Connection::open_in_memory().unwrap())?;
    }

    #[test]
    fn deep_nesting_is_refused_or_kept_never_a_crash(text in deep()) {
        holds(&text, &Connection::open_in_memory().unwrap())?;
    }
}
