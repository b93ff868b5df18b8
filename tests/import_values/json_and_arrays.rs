//! JSON and arrays: json, jsonb, arrays of every kind; JSON null beside SQL NULL; which
//! values SQLite's json_valid() accepts.

use super::Lost::No;
use super::Want::{self, Text};
use super::edge::CASES as ALL;
use super::{Case, ImportOutcome, Render, Val, expected, list};
use crate::support::pg::TestDb;

/// The edge cases of json and jsonb.
pub(super) const JSON: &[Case] = &[
    (
        "json",
        "'{ \"a\" : 1, \"a\": 2,\n \"n\": 123456789012345678901234567890, \"f\": 1.50 }'",
        "TEXT",
        Text(r#"{"a":1,"a":2,"n":123456789012345678901234567890,"f":1.50}"#),
        No,
    ),
    ("json", r#"'[1, "a b" , {"k" : "v\n w"}]'"#, "TEXT", Text(r#"[1,"a b",{"k":"v\n w"}]"#), No),
    ("jsonb", r#"'{"b": [1, 2.50], "a": "x y"}'"#, "TEXT", Text(r#"{"a":"x y","b":[1,2.50]}"#), No),
    ("jsonb", r#"'"s"'"#, "TEXT", Text(r#""s""#), No),
    ("json", r#"'"a\u0000b"'"#, "TEXT", Text(r#""a\u0000b""#), No),
    ("jsonb", r#"'"\u00e9\n"'"#, "TEXT", Text(r#""é\n""#), No),
    (
        "jsonb",
        "'123456789012345678901234567890.5'",
        "TEXT",
        Text("123456789012345678901234567890.5"),
        No,
    ),
    (
        "timestamptz",
        "'2024-01-02 03:04:05.123456+00'",
        "TEXT",
        Text("2024-01-02 03:04:05.123456"),
        No,
    ),
];

/// The edge cases of arrays (they come after bytea in the table).
pub(super) const ARRAYS: &[Case] = &[
    ("int4[]", "'{1,NULL,3}'", "TEXT", Text("[1,null,3]"), No),
    ("int4[]", "'{}'", "TEXT", Text("[]"), No),
    ("int4[]", "'{{1,2},{3,4}}'", "TEXT", Text("[[1,2],[3,4]]"), No),
    ("int4[]", "'[0:1]={1,2}'", "TEXT", Text("[0:1]={1,2}"), No),
    ("int4[]", "'[1:1][0:1]={{1,2}}'", "TEXT", Text("[1:1][0:1]={{1,2}}"), No),
    (
        "text[]",
        r#"'{"a b",NULL,"NULL","\"q\""}'"#,
        "TEXT",
        Text(r#"["a b",null,"NULL","\"q\""]"#),
        No,
    ),
    ("numeric(5,2)[]", "'{1.5,NULL}'", "TEXT", Text(r#"["1.50",null]"#), No),
    ("float8[]", "'{NaN,-Infinity,1.5}'", "TEXT", Text(r#"["NaN","-Infinity",1.5]"#), No),
    ("bytea[]", r#"'{"\\x0102",NULL}'"#, "TEXT", Text(r#"["AQI=",null]"#), No),
    (
        "timestamptz[]",
        "'{\"2024-01-02 03:04:05+00\",infinity}'",
        "TEXT",
        Text(r#"["2024-01-02T03:04:05.000000Z","infinity"]"#),
        No,
    ),
    (
        "inet[]",
        "'{10.0.0.1,::1,10.0.0.0/8}'",
        "TEXT",
        Text(r#"["10.0.0.1","::1","10.0.0.0/8"]"#),
        No,
    ),
    ("interval[]", "'{P1D,NULL}'", "TEXT", Text(r#"["P1D",null]"#), No),
    ("money[]", "'{1.5,2}'", "TEXT", Text(r#"["1.50","2.00"]"#), No),
    ("jsonb[]", r#"'{"{\"k\": 1}",null}'"#, "TEXT", Text(r#"[{"k":1},null]"#), No),
    ("bool[]", "'{t,f,NULL}'", "TEXT", Text("[true,false,null]"), No),
    (
        "uuid[]",
        "'{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}'",
        "TEXT",
        Text(r#"["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]"#),
        No,
    ),
];

/// JSON `null` (recorded in the manifest's `json_nulls`) becomes the TEXT `null`; SQL NULL
/// stays NULL.
pub(super) fn check_json_nulls(out: &ImportOutcome) -> Vec<String> {
    let t = |s: &str| Val::Text(s.to_owned());
    let n = Val::Null;
    let want = vec![
        vec![Val::Int(1), t("null"), n.clone(), t("null")],
        vec![Val::Int(2), n.clone(), t("null"), t("{}")],
        vec![Val::Int(3), t("{}"), t("null"), t("null")],
        vec![Val::Int(4), n.clone(), n, t("[]")],
    ];
    let got = out.rows("json_nulls", &["id", "a", "b", "c"], "ORDER BY id");
    let valid = out.strings(
        "SELECT count(*) FROM json_nulls WHERE NOT (json_valid(a) AND json_valid(b) AND json_valid(c))",
    );
    let mut failures = Vec::new();
    if got != want {
        failures
            .push(format!("json_nulls (id, a, b, c)\n  expected: {want:?}\n  got:      {got:?}"));
    }
    if valid != [[Some("0".to_owned())]] {
        failures.push(format!(
            "json_nulls: rows where json_valid() is false\n  expected: 0\n  got:      {valid:?}"
        ));
    }
    failures
}

/// JSON nulls far past the first batch of rows land on their own rows: 10 of 10,000, the
/// others SQL NULL or objects, compared with Postgres row by row.
pub(super) fn check_json_nulls_many(db: &TestDb, out: &ImportOutcome) -> Vec<String> {
    let pg = db.query_strings("SELECT id, j::text FROM json_nulls_many ORDER BY id");
    let got = out.rows("json_nulls_many", &["id", "j"], "ORDER BY id");
    let mut failures = Vec::new();
    if pg.len() != got.len() {
        failures.push(format!(
            "json_nulls_many rows\n  expected: {}\n  got:      {}",
            pg.len(),
            got.len()
        ));
    }
    for (p, g) in pg.iter().zip(&got) {
        let want =
            [expected(Render::Int, p[0].as_deref()), expected(Render::Json, p[1].as_deref())];
        if !want.iter().zip(g).all(|(w, g)| w.matches(g)) {
            failures.push(format!(
                "json_nulls_many\n  expected: {}\n  got:      {}",
                list(&want),
                list(g)
            ));
        }
    }
    let text_nulls = out.strings("SELECT count(*) FROM json_nulls_many WHERE j = 'null'");
    if text_nulls != [[Some("10".to_owned())]] {
        failures.push(format!(
            "json_nulls_many: rows holding the TEXT null\n  expected: 10\n  got:      {text_nulls:?}"
        ));
    }
    failures
}

/// json, jsonb, arrays and composites hold JSON that SQLite accepts; an array whose lower
/// bounds are not all 1 holds its Postgres text (`[0:1]={1,2}`), which is not JSON.
pub(super) fn check_json_valid(out: &ImportOutcome) -> Vec<String> {
    let mut failures = Vec::new();
    for (i, &(ty, literal, _, want, _)) in ALL.iter().enumerate() {
        let structured = ty.ends_with("[]")
            || matches!(ty, "json" | "jsonb" | "pair" | "netpair" | "int2vector");
        let (true, Want::Text(text)) = (structured, want) else { continue };
        let valid = if has_array_bounds(text) { "0" } else { "1" };
        let got = out.strings(&format!("SELECT json_valid(v) FROM c{i} WHERE id = 1"));
        if got != [[Some(valid.to_owned())]] {
            failures.push(format!(
                "c{i}: json_valid() of {ty} {literal}\n  expected: {valid}\n  got:      {got:?}"
            ));
        }
    }
    failures
}

/// Whether `text` is Postgres' text of an array with explicit bounds (`[0:1]={1,2}`).
fn has_array_bounds(text: &str) -> bool {
    let bounds = text.strip_prefix('[').and_then(|t| t.split_once(']')).map(|(b, _)| b);
    bounds.is_some_and(|b| {
        b.contains(':') && b.chars().all(|c| c.is_ascii_digit() || c == ':' || c == '-')
    })
}
