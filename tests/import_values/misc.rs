//! Everything else: booleans, enums, composites, network types, ranges, bits, xml,
//! geometry, text search, oid-like types.

use super::Lost::No;
use super::Want::{Int, Text};
use super::edge::CASES as ALL;
use super::{Case, ImportOutcome};

/// The edge cases of bool (they come before the text cases in the table).
pub(super) const BOOLS: &[Case] =
    &[("bool", "true", "INTEGER", Int(1), No), ("bool", "false", "INTEGER", Int(0), No)];

/// The edge cases of enums, composites and the other types, last in the table.
pub(super) const CASES: &[Case] = &[
    ("mood", "'happy'", "TEXT", Text("happy"), No),
    ("mood[]", "'{sad,happy}'", "TEXT", Text(r#"["sad","happy"]"#), No),
    ("pair", r#"'(1,"x y")'"#, "TEXT", Text(r#"{"a":1,"b":"x y"}"#), No),
    ("pair", "'(,)'", "TEXT", Text(r#"{"a":null,"b":null}"#), No),
    (
        "netpair",
        r#"'(10.0.0.1/24,1.5,"{1,2}")'"#,
        "TEXT",
        Text(r#"{"addr":"10.0.0.1/24","n":"1.50","tags":[1,2]}"#),
        No,
    ),
    (
        "netpair",
        r#"'(,,"[0:0]={7}")'"#,
        "TEXT",
        Text(r#"{"addr":null,"n":null,"tags":"[0:0]={7}"}"#),
        No,
    ),
    ("pair[]", r#"'{"(1,a)",NULL}'"#, "TEXT", Text(r#"[{"a":1,"b":"a"},null]"#), No),
    ("inet", "'192.168.1.5/24'", "TEXT", Text("192.168.1.5/24"), No),
    ("cidr", "'10.0.0.0/8'", "TEXT", Text("10.0.0.0/8"), No),
    ("macaddr", "'08:00:2b:01:02:03'", "TEXT", Text("08:00:2b:01:02:03"), No),
    ("int4range", "'[1,10)'", "TEXT", Text("[1,10)"), No),
    (
        "tstzrange",
        "'[2024-01-01 00:00+00,2024-02-01 00:00+00)'",
        "TEXT",
        Text(r#"["2024-01-01 00:00:00+00","2024-02-01 00:00:00+00")"#),
        No,
    ),
    ("bit(3)", "'101'", "TEXT", Text("101"), No),
    ("xml", "'<a>x</a>'", "TEXT", Text("<a>x</a>"), No),
    ("point", "'(1.5,2)'", "TEXT", Text("(1.5,2)"), No),
    ("tsvector", "'a fat cat'", "TEXT", Text("'a' 'cat' 'fat'"), No),
    ("int2vector", "'1 2 3'", "TEXT", Text("[1,2,3]"), No),
    ("regclass", "'public.c0'", "TEXT", Text("public.c0"), No),
];

/// The enum's CHECK takes every label and refuses anything else.
pub(super) fn check_enum(out: &ImportOutcome) -> Vec<String> {
    let i = ALL.iter().position(|c| c.0 == "mood").expect("a mood case");
    let insert = |id: i64, label: &str| {
        out.conn.execute(
            &format!("INSERT INTO c{i} (id, v) VALUES (?1, ?2)"),
            rusqlite::params![id, label],
        )
    };
    let mut failures = Vec::new();
    if let Err(e) = insert(3, "ok") {
        failures
            .push(format!("c{i}: insert of the label 'ok'\n  expected: accepted\n  got:      {e}"));
    }
    match insert(4, "angry") {
        Err(e) if e.to_string().contains("CHECK constraint failed") => {}
        other => failures.push(format!(
            "c{i}: insert of 'angry', no label of mood\n  expected: CHECK constraint failed\n  \
             got:      {other:?}"
        )),
    }
    failures
}
