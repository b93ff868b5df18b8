//! Values no Postgres could have exported, forged into a real export of a table with a column
//! of every kind (issue 12, item 6): each is refused by `import` (exit 2, naming file, line,
//! column and the problem, the old target byte-identical) and reported by `verify --deep`
//! (exit 1, naming the same), so import accepts nothing that verify rejects. And the valid
//! edge values of every kind pass both.

use std::path::PathBuf;

use serde_json::Value;

use super::{Forged, old_target, refused, tables};
use crate::support::pg::TestDb;

const FILE: &str = "tables/public.kinds.ndjson";

const SCHEMA: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE TABLE kinds (
    id int PRIMARY KEY,
    i2 int2, i4 int4, i8 int8,
    price numeric(12,2), n numeric, f4 float4,
    u uuid, born date, at timestamp, atz timestamptz, t time, tz timetz, span interval,
    raw bytea, mood mood, tags text[], grid int4[], pair pair, doc jsonb,
    body text NOT NULL
);
INSERT INTO kinds VALUES
  (1, -32768, -2147483648, -9223372036854775808, '9999999999.99', '-0.000001', '3.4028235e38',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29', '2024-01-02 03:04:05.123456',
   '0044-03-15 12:00:00+00 BC', '24:00:00', '00:00:00-15:59:59', '-1 hour -2 minutes -3.4 seconds',
   '\x00ff', 'happy', '{"a b",NULL,"NULL"}', '{{1,2},{3,NULL}}', '(1,"x y")', 'null', 'é "q"'),
  (2, 32767, 2147483647, 9223372036854775807, 'NaN', 'Infinity', '-Infinity',
   '00000000-0000-0000-0000-000000000000', 'infinity', '10000-01-01 00:00:00',
   '-infinity', '13:14:15.5', '03:04:05+05:30', 'P1Y2M3D', '', 'sad', '{}', '[0:1]={1,2}',
   '(,)', '[1, {"k": 2.50}]', ''),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, 'x');
"#;

/// An export of `kinds`, whose three rows hold the edge values of every kind and NULLs.
fn kinds_export() -> (TestDb, Forged) {
    let db = TestDb::new();
    db.execute(SCHEMA);
    let forged = Forged::export(&db, &[]);
    (db, forged)
}

/// Sets `column` to the raw JSON `value` in the line of row `id` (key order kept), for
/// [`Forged::edit_table`]; other lines are left as they are.
fn set(id: i64, column: &str, value: &str) -> impl Fn(&str) -> String {
    move |line| {
        let row: serde_json::Map<String, Value> =
            serde_json::from_str(line).expect("an exported line is an object");
        if row["id"] != id {
            return line.to_owned();
        }
        let fields: Vec<String> = row
            .iter()
            .map(|(k, v)| {
                let v = if k == column { value.to_owned() } else { v.to_string() };
                format!("{}:{v}", Value::String(k.clone()))
            })
            .collect();
        format!("{{{}}}", fields.join(","))
    }
}

/// A malformed value on line 2: the column, the raw JSON written there, and what both
/// commands must say about it after `line 2, column "<column>"` (the way into an array or
/// composite, then `: ` and the problem).
const VALUES: &[(&str, &str, &str)] = &[
    ("i4", "2147483648", ": 2147483648 is out of range for integer"),
    ("i4", "-2147483649", ": -2147483649 is out of range for integer"),
    ("i2", "32768", ": 32768 is out of range for smallint"),
    ("i8", "9223372036854775808", ": 9223372036854775808 is out of range for bigint"),
    ("i8", "1.5", ": 1.5 is not a bigint (expected an integer)"),
    (
        "u",
        "\"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11\"",
        ": \"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11\" is not a uuid",
    ),
    ("u", "\"not-a-uuid\"", ": \"not-a-uuid\" is not a uuid"),
    ("born", "\"2024-02-30\"", ": \"2024-02-30\" is not a date (expected 2024-01-02)"),
    ("at", "\"2024-01-02T25:00:00\"", ": \"2024-01-02T25:00:00\" is not a timestamp without"),
    (
        "at",
        "\"2024-01-02T03:04:05.000000Z\"",
        ": \"2024-01-02T03:04:05.000000Z\" is not a timestamp",
    ),
    ("atz", "\"2024-01-02 03:04:05+00\"", ": \"2024-01-02 03:04:05+00\" is not a timestamp with"),
    ("t", "\"24:00:01.000000\"", ": \"24:00:01.000000\" is not a time without time zone"),
    ("tz", "\"03:04:05.000000\"", ": \"03:04:05.000000\" is not a time with time zone"),
    ("span", "\"1 day\"", ": \"1 day\" is not an interval"),
    ("tags", "\"a,b\"", ": \"a,b\" is not a text[] (expected a JSON array)"),
    ("tags", "[\"a\",1]", ", element [2]: 1 is not a text (expected a string)"),
    ("grid", "[[1,2],[3]]", ": [[1,2],[3]] is not a rectangular integer[]"),
    ("pair", "\"(1,x)\"", ": \"(1,x)\" does not have the fields of public.pair in order"),
    ("pair", "{\"a\":\"one\",\"b\":\"x\"}", ", field \"a\": \"one\" is not an integer"),
    ("raw", "\"AAE\"", ": \"AAE\" is not a bytea (expected standard base64)"),
    ("mood", "\"angry\"", ": \"angry\" is not a label of public.mood"),
    ("n", "\"abc\"", ": \"abc\" is not a numeric"),
    ("n", "12", ": 12 is not a numeric"),
    ("price", "\"12345678901.00\"", ": \"12345678901.00\" does not fit numeric(12,2)"),
    ("f4", "3.5e38", ": 3.5e38 is out of range for real"),
    ("body", "null", ": null in a NOT NULL column"),
    ("id", "null", ": null in a NOT NULL column"),
];

/// An old target that each refused import must leave byte-identical.
struct Old {
    target: PathBuf,
    before: Vec<u8>,
}

impl Old {
    fn new(forged: &Forged) -> Old {
        let (target, before) = old_target(forged.dir.path());
        Old { target, before }
    }
}

/// Import refuses (exit 2, the old target byte-identical) and verify reports (exit 1), both
/// naming the file and saying `needles`.
fn both_refuse(forged: &Forged, old: &Old, needles: &[&str]) {
    let import = forged.import(&old.target, &[]);
    let verify = forged.verify().assert_code(1);
    for needle in needles.iter().chain(&[FILE]) {
        assert!(verify.stdout.contains(needle), "verify --deep should say {needle:?}:\n{verify}");
    }
    let stderr = import.stderr.clone();
    for needle in needles {
        assert!(stderr.contains(needle), "import should say {needle:?}:\n{stderr}");
    }
    refused(import, 2, FILE, &old.target, &old.before);
}

#[test]
fn the_edge_values_of_every_kind_pass_both_verify_and_import() {
    let (_db, forged) = kinds_export();
    forged.verify().assert_code(0);
    let target = forged.dir.path().join("kinds.db");
    forged.import(&target, &[]).assert_code(0);
}

#[test]
fn every_malformed_value_family_is_refused_by_import_and_reported_by_verify() {
    let (_db, forged) = kinds_export();
    let old = Old::new(&forged);
    let original = std::fs::read_to_string(forged.path(FILE)).expect("the data file");
    for (column, value, says) in VALUES {
        forged.write_table("kinds", &original);
        forged.edit_table("kinds", set(2, column, value));
        both_refuse(&forged, &old, &[&format!("line 2, column \"{column}\"{says}")]);
    }
}

#[test]
fn a_null_primary_key_is_refused_even_when_the_manifest_calls_the_column_nullable() {
    let (_db, forged) = kinds_export();
    let mut manifest = forged.manifest();
    for t in manifest["tables"].as_array_mut().expect("tables") {
        t["columns"][0]["nullable"] = true.into();
    }
    assert_eq!(tables(&manifest)[0]["columns"][0]["name"], "id");
    forged.set_manifest(manifest);
    forged.edit_table("kinds", set(3, "id", "null"));
    let old = Old::new(&forged);
    both_refuse(&forged, &old, &["line 3, column \"id\": null in a NOT NULL column"]);
}

#[test]
fn a_data_file_without_its_final_newline_is_refused_by_both() {
    let (_db, forged) = kinds_export();
    let original = std::fs::read_to_string(forged.path(FILE)).expect("the data file");
    forged.write_table("kinds", original.trim_end_matches('\n'));
    let old = Old::new(&forged);
    both_refuse(&forged, &old, &["does not end with a newline"]);
    let import = forged.import(&old.target, &[]);
    refused(import, 2, "line 3 does not end with a newline", &old.target, &old.before);
}

/// A line that is no row of the table, and what verify and import each say of it.
const LINES: &[(&str, &str, &str)] = &[
    ("[1,2]", "line 2: malformed line: invalid type", "line 2: not a JSON object"),
    ("{\"id\":2", "line 2: malformed line: EOF", "line 2: not a JSON object: EOF"),
    ("", "line 2: malformed line", "line 2: not a JSON object"),
];

#[test]
fn a_line_that_is_not_an_object_of_the_table_s_columns_is_refused_by_both() {
    let (_db, forged) = kinds_export();
    let original = std::fs::read_to_string(forged.path(FILE)).expect("the data file");
    let old = Old::new(&forged);
    let mut lines: Vec<&str> = original.lines().collect();
    for (line, verify_says, import_says) in LINES {
        lines[1] = line;
        forged.write_table("kinds", &(lines.join("\n") + "\n"));
        check_each(&forged, &old, verify_says, import_says);
    }
    let renamed = original.replacen("\"body\":", "\"bodyx\":", 1);
    let key = "key \"bodyx\" where column \"body\" was expected";
    forged.write_table("kinds", &renamed);
    check_each(&forged, &old, key, "key 21 is \"bodyx\", but column 21 of the table is \"body\"");
    let first = original.lines().next().expect("a first line");
    let cut = first.rsplit_once(",\"body\"").expect("body is the last key").0.to_owned() + "}";
    forged.write_table("kinds", &original.replacen(first, &cut, 1));
    check_each(
        &forged,
        &old,
        "line 1, column \"body\": no key for column \"body\"",
        "no key for column",
    );
}

#[test]
fn a_row_count_that_differs_from_the_manifest_is_refused_by_both() {
    let (_db, forged) = kinds_export();
    let mut manifest = forged.manifest();
    manifest["tables"][0]["rows"] = 4.into();
    forged.set_manifest(manifest);
    let old = Old::new(&forged);
    check_each(
        &forged,
        &old,
        "row count 3, manifest says 4",
        "the file has 3 rows, the manifest says 4",
    );
}

/// Verify reports (exit 1) saying `verify_says`; import refuses (exit 2, old target kept)
/// saying `import_says`.
fn check_each(forged: &Forged, old: &Old, verify_says: &str, import_says: &str) {
    let verify = forged.verify().assert_code(1);
    assert!(verify.stdout.contains(verify_says), "verify should say {verify_says:?}:\n{verify}");
    refused(forged.import(&old.target, &[]), 2, import_says, &old.target, &old.before);
}
