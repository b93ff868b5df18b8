//! `export` against a real Postgres: the value encoding of DESIGN.md checked value by value,
//! with Postgres itself as the oracle where it can render the same thing; determinism; the
//! shapes of schema a real database has; the snapshot; and failures.

use std::collections::HashMap;
use std::path::Path;

use pg2lite::export::{self, ExportOptions, ExportSummary};
use pg2lite::model::manifest::Manifest;
use pg2lite::pg::Source;
use pg2lite::progress::Silent;
use serde_json::value::RawValue;

use crate::support::pg::TestDb;

pub fn options(url: &str, out: &Path) -> ExportOptions {
    ExportOptions {
        source: Source::resolve(Some(url), &HashMap::new()).expect("test URLs are valid"),
        out: out.to_owned(),
        schemas: vec![],
        tables: vec![],
        exclude: vec![],
        jobs: 2,
        tenant: None,
        sign: None,
        redact: Default::default(),
        matviews_as_tables: false,
        snapshot: None,
    }
}

pub fn export_db(db: &TestDb, out: &Path) -> ExportSummary {
    export::run(&options(&db.url(), out), &Silent).expect("export succeeds")
}

/// Each line of a data file as (column, raw JSON text) pairs, in file order.
pub fn raw_lines(dir: &Path, file: &str) -> Vec<Vec<(String, String)>> {
    let text = std::fs::read_to_string(dir.join(file)).expect("data file exists");
    text.lines()
        .map(|line| {
            let map: indexmap_like::Pairs =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("line {line:?}: {e}"));
            map.0
        })
        .collect()
}

/// Deserializes a JSON object into its pairs, in order, keeping each value's raw text.
mod indexmap_like {
    use super::RawValue;
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

    pub struct Pairs(pub Vec<(String, String)>);

    impl<'de> Deserialize<'de> for Pairs {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Pairs;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Pairs, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = m.next_entry::<String, Box<RawValue>>()? {
                        out.push((k, v.get().to_owned()));
                    }
                    Ok(Pairs(out))
                }
            }
            d.deserialize_map(V)
        }
    }
}

/// (type, SQL literal, the exact JSON DESIGN.md asks for).
const CASES: &[(&str, &str, &str)] = &[
    ("int2", "-32768", "-32768"),
    ("int2", "32767", "32767"),
    ("int4", "-2147483648", "-2147483648"),
    ("int8", "-9223372036854775808", "-9223372036854775808"),
    ("int8", "9223372036854775807", "9223372036854775807"),
    ("oid", "4294967295", "4294967295"),
    ("float4", "'NaN'", r#""NaN""#),
    ("float4", "'Infinity'", r#""Infinity""#),
    ("float4", "'-Infinity'", r#""-Infinity""#),
    ("float4", "'-0'", "-0.0"),
    ("float4", "1.1", "1.1"),
    ("float8", "0.1", "0.1"),
    ("float8", "'NaN'", r#""NaN""#),
    ("float8", "'-Infinity'", r#""-Infinity""#),
    ("float8", "1e300", "1e300"),
    ("float8", "'-0'", "-0.0"),
    (
        "numeric",
        "'1234567890123456789012345678901234567890'",
        r#""1234567890123456789012345678901234567890""#,
    ),
    ("numeric", "'-0.000001'", r#""-0.000001""#),
    ("numeric", "'NaN'", r#""NaN""#),
    ("numeric", "'Infinity'", r#""Infinity""#),
    ("numeric(5,2)", "12.5", r#""12.50""#),
    ("numeric", "1e-20", r#""0.00000000000000000001""#),
    ("bool", "true", "true"),
    ("bool", "false", "false"),
    ("text", r#"E'q" b\\ n\n t\t e😀 m𝄞 c\x01'"#, r#""q\" b\\ n\n t\t e😀 m𝄞 c\u0001""#),
    ("varchar(5)", "'abc'", r#""abc""#),
    ("char(4)", "'ab'", r#""ab  ""#),
    ("name", "'nm'", r#""nm""#),
    ("uuid", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", r#""a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11""#),
    (
        "json",
        "'{ \"a\" : 1, \"a\": 2,\n \"n\": 123456789012345678901234567890, \"f\": 1.50 }'",
        r#"{"a":1,"a":2,"n":123456789012345678901234567890,"f":1.50}"#,
    ),
    ("jsonb", r#"'{"b": [1, 2.50], "a": "x y"}'"#, r#"{"a":"x y","b":[1,2.50]}"#),
    ("jsonb", r#"'"s"'"#, r#""s""#),
    ("timestamptz", "'2024-01-02 03:04:05.123456+00'", r#""2024-01-02T03:04:05.123456Z""#),
    ("timestamptz", "'2024-01-02 03:04:05+02'", r#""2024-01-02T01:04:05.000000Z""#),
    ("timestamptz", "'infinity'", r#""infinity""#),
    ("timestamptz", "'-infinity'", r#""-infinity""#),
    ("timestamptz", "'0044-03-15 12:00:00+00 BC'", r#""-0043-03-15T12:00:00.000000Z""#),
    ("timestamptz", "'10000-01-01 00:00:00+00'", r#""+10000-01-01T00:00:00.000000Z""#),
    ("timestamp", "'2024-01-02 03:04:05'", r#""2024-01-02T03:04:05.000000""#),
    ("timestamp", "'0001-01-01 00:00:00 BC'", r#""0000-01-01T00:00:00.000000""#),
    ("date", "'2024-02-29'", r#""2024-02-29""#),
    ("date", "'4713-11-24 BC'", r#""-4712-11-24""#),
    ("date", "'5874897-12-31'", r#""+5874897-12-31""#),
    ("date", "'infinity'", r#""infinity""#),
    ("time", "'24:00:00'", r#""24:00:00.000000""#),
    ("time", "'13:14:15.5'", r#""13:14:15.500000""#),
    ("timetz", "'03:04:05+05:30'", r#""03:04:05.000000+05:30""#),
    ("timetz", "'00:00:00-01:02:03'", r#""00:00:00.000000-01:02:03""#),
    ("interval", "'-1 hour -2 minutes -3.4 seconds'", r#""PT-1H-2M-3.4S""#),
    ("interval", "'1 year 2 months 3 days'", r#""P1Y2M3D""#),
    ("interval", "'0'", r#""PT0S""#),
    ("bytea", "''", r#""""#),
    ("bytea", "'\\x00ff10'", r#""AP8Q""#),
    ("int4[]", "'{1,NULL,3}'", "[1,null,3]"),
    ("int4[]", "'{}'", "[]"),
    ("int4[]", "'{{1,2},{3,4}}'", "[[1,2],[3,4]]"),
    ("int4[]", "'[0:1]={1,2}'", r#""[0:1]={1,2}""#),
    ("int4[]", "'[1:1][0:1]={{1,2}}'", r#""[1:1][0:1]={{1,2}}""#),
    ("text[]", r#"'{"a b",NULL,"NULL","\"q\""}'"#, r#"["a b",null,"NULL","\"q\""]"#),
    (
        "timestamptz[]",
        "'{\"2024-01-02 03:04:05+00\",infinity}'",
        r#"["2024-01-02T03:04:05.000000Z","infinity"]"#,
    ),
    ("inet[]", "'{10.0.0.1,::1,10.0.0.0/8}'", r#"["10.0.0.1","::1","10.0.0.0/8"]"#),
    ("interval[]", "'{P1D,NULL}'", r#"["P1D",null]"#),
    ("money[]", "'{1.5,2}'", r#"["1.50","2.00"]"#),
    ("mood", "'happy'", r#""happy""#),
    ("mood[]", "'{sad,happy}'", r#"["sad","happy"]"#),
    ("posint", "7", "7"),
    ("price", "'3.5'", r#""3.50""#),
    ("pair", r#"'(1,"x y")'"#, r#"{"a":1,"b":"x y"}"#),
    ("pair", "'(,)'", r#"{"a":null,"b":null}"#),
    (
        "netpair",
        r#"'(10.0.0.1/24,1.5,"{1,2}")'"#,
        r#"{"addr":"10.0.0.1/24","n":"1.50","tags":[1,2]}"#,
    ),
    ("netpair", r#"'(,,"[0:0]={7}")'"#, r#"{"addr":null,"n":null,"tags":"[0:0]={7}"}"#),
    ("pair[]", r#"'{"(1,a)",NULL}'"#, r#"[{"a":1,"b":"a"},null]"#),
    ("inet", "'192.168.1.5'", r#""192.168.1.5""#),
    ("inet", "'192.168.1.5/24'", r#""192.168.1.5/24""#),
    ("cidr", "'10.0.0.0/8'", r#""10.0.0.0/8""#),
    ("money", "'1000.00'", r#""1000.00""#),
    ("money", "'-12.34'", r#""-12.34""#),
    ("int4range", "'[1,10)'", r#""[1,10)""#),
    (
        "tstzrange",
        "'[2024-01-01 00:00+00,2024-02-01 00:00+00)'",
        r#""[\"2024-01-01 00:00:00+00\",\"2024-02-01 00:00:00+00\")""#,
    ),
    ("macaddr", "'08:00:2b:01:02:03'", r#""08:00:2b:01:02:03""#),
    ("bit(3)", "'101'", r#""101""#),
    ("xml", "'<a>x</a>'", r#""<a>x</a>""#),
    ("point", "'(1.5,2)'", r#""(1.5,2)""#),
    ("\"char\"", "'z'", r#""z""#),
    ("citext", "'MiXeD'", r#""MiXeD""#),
    ("int2vector", "'1 2 3'", "[1,2,3]"),
    ("regclass", "'public.c0'", r#""public.c0""#),
];

const TYPES_SQL: &str = "
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN price AS numeric(6,2);
CREATE TYPE pair AS (a int, b text);
CREATE TYPE netpair AS (addr inet, n numeric(5,2), tags int[]);";

#[test]
fn every_type_family_exports_to_exactly_the_json_design_md_specifies() {
    let db = TestDb::new();
    db.execute(TYPES_SQL);
    // One table per case, so that each value is checked on its own line.
    for (i, (ty, literal, _)) in CASES.iter().enumerate() {
        db.execute(&format!(
            "CREATE TABLE c{i} (id int PRIMARY KEY, v {ty}); \
             INSERT INTO c{i} VALUES (1, {literal}), (2, NULL);"
        ));
    }
    let out = tempfile::tempdir().unwrap();
    let summary = export_db(&db, out.path());
    let mut failures = Vec::new();
    for (i, (ty, literal, expected)) in CASES.iter().enumerate() {
        let lines = raw_lines(&summary.dir, &format!("tables/public.c{i}.ndjson"));
        let got = &lines[0][1].1;
        if got != expected {
            failures.push(format!("{ty} {literal}\n  expected: {expected}\n  got:      {got}"));
        }
        assert_eq!(lines[1][1].1, "null", "NULL of {ty}");
    }
    assert!(failures.is_empty(), "{} values differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn bytea_with_all_256_byte_values_matches_postgres_base64() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE b (id int PRIMARY KEY, v bytea);
         INSERT INTO b SELECT 1, decode(string_agg(lpad(to_hex(i), 2, '0'), '' ORDER BY i), 'hex')
           FROM generate_series(0, 255) i;",
    );
    let expected = db.query_strings("SELECT replace(encode(v, 'base64'), E'\\n', '') FROM b");
    let out = tempfile::tempdir().unwrap();
    let summary = export_db(&db, out.path());
    let lines = raw_lines(&summary.dir, "tables/public.b.ndjson");
    let expected = format!("\"{}\"", expected[0][0].as_deref().unwrap());
    assert_eq!(lines[0][1].1, expected);
}

/// Thousands of random values rendered by Postgres and by pg2lite must agree: Postgres is
/// the oracle of what each value is.
#[test]
fn random_values_agree_with_postgres_own_rendering() {
    let db = TestDb::new();
    db.execute(
        "SELECT setseed(0.42);
         CREATE TABLE r AS SELECT i AS id,
           (random() * 2e6 - 1e6)::numeric(20, 6) * 10::numeric ^ (i % 13 - 6) AS n,
           (random() - 0.5) * 10 ^ (i % 600 - 300) AS f,
           ((random() - 0.5) * 10 ^ (i % 70 - 35))::float4 AS f4,
           timestamptz '0001-01-01 00:00:00+00' + random() * interval '9998 years' AS ts,
           date '0001-01-01' + (random() * 3650000)::int AS d,
           gen_random_uuid() AS u,
           decode(md5(i::text), 'hex') AS b
         FROM generate_series(1, 3000) i;
         ALTER TABLE r ADD PRIMARY KEY (id);",
    );
    let oracle = db.query_strings(
        "SELECT n::text, f::text, f4::text,
                to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                to_char(d, 'YYYY-MM-DD'), u::text, encode(b, 'base64')
           FROM r ORDER BY id",
    );
    let out = tempfile::tempdir().unwrap();
    let summary = export_db(&db, out.path());
    let lines = raw_lines(&summary.dir, "tables/public.r.ndjson");
    assert_eq!(lines.len(), oracle.len());
    for (line, want) in lines.iter().zip(&oracle) {
        let got = |i: usize| line[i].1.as_str();
        let want = |i: usize| want[i].as_deref().unwrap();
        assert_eq!(got(1), format!("\"{}\"", want(0)), "numeric");
        assert_eq!(got(2).parse::<f64>().unwrap(), want(1).parse::<f64>().unwrap(), "float8");
        assert!(
            got(2).trim_end_matches(".0").len() <= want(1).len() + 2,
            "float8 not shortest: {}",
            got(2)
        );
        assert_eq!(got(3).parse::<f32>().unwrap(), want(2).parse::<f32>().unwrap(), "float4");
        assert_eq!(got(4), format!("\"{}\"", want(3)), "timestamptz");
        assert_eq!(got(5), format!("\"{}\"", want(4)), "date");
        assert_eq!(got(6), format!("\"{}\"", want(5)), "uuid");
        assert_eq!(got(7), format!("\"{}\"", want(6)), "bytea");
    }
}

#[test]
fn two_exports_of_unchanged_data_are_byte_identical() {
    let db = TestDb::new();
    db.load_pagila();
    let out = tempfile::tempdir().unwrap();
    let first = Manifest::load(&export_db(&db, out.path()).dir).unwrap();
    let second = Manifest::load(&export_db(&db, out.path()).dir).unwrap();
    assert_ne!(first.export_id, second.export_id);
    assert_eq!(first.tables.len(), second.tables.len());
    for (a, b) in first.tables.iter().zip(&second.tables) {
        assert_eq!((&a.file, &a.sha256, a.rows), (&b.file, &b.sha256, b.rows));
    }
}

#[test]
fn pagila_exports_one_file_per_table_with_partitions_through_their_root() {
    let db = TestDb::new();
    db.load_pagila();
    let out = tempfile::tempdir().unwrap();
    let summary = export_db(&db, out.path());
    let manifest = Manifest::load(&summary.dir).unwrap();
    let names: Vec<String> = manifest.tables.iter().map(|t| t.table.name.clone()).collect();
    assert!(names.contains(&"payment".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("payment_p")), "partitions exported: {names:?}");
    for t in &manifest.tables {
        let count = db.query_strings(&format!(
            "SELECT count(*)::text FROM {}",
            pg2lite::pg::quote_qualified(&t.table.schema, &t.table.name)
        ));
        assert_eq!(count[0][0].as_deref(), Some(t.rows.to_string().as_str()), "{}", t.table.name);
    }
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(&summary.dir)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
}

const SHAPES_SQL: &str = r#"
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Order Items" ("Id" int PRIMARY KEY, "select" text, "a.b" int);
INSERT INTO "Sales"."Order Items" VALUES (2, 'two', 20), (1, 'one', 10);
CREATE TABLE "my.schema_less" (v int);
INSERT INTO "my.schema_less" VALUES (3), (1), (2);
CREATE TABLE parent (id int PRIMARY KEY, kind text);
CREATE TABLE child (extra text) INHERITS (parent);
INSERT INTO parent VALUES (1, 'p');
INSERT INTO child VALUES (2, 'c', 'x');
CREATE TABLE ident (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  qty int NOT NULL,
  doubled int GENERATED ALWAYS AS (qty * 2) STORED);
INSERT INTO ident (qty) VALUES (5), (7);
CREATE TABLE empty_shape ();
INSERT INTO empty_shape DEFAULT VALUES;
INSERT INTO empty_shape DEFAULT VALUES;
CREATE TABLE uniq (a int NOT NULL, b int NOT NULL, c int, UNIQUE (c), UNIQUE (b), UNIQUE (a, b));
INSERT INTO uniq VALUES (1, 9, 5), (2, 8, 4), (3, 7, NULL);
"#;

#[test]
fn schemas_quoted_names_inheritance_identity_and_empty_tables_export_correctly() {
    let db = TestDb::new();
    db.execute(SHAPES_SQL);
    let out = tempfile::tempdir().unwrap();
    let summary = export_db(&db, out.path());
    let m = Manifest::load(&summary.dir).unwrap();
    let entry = |schema: &str, name: &str| {
        m.table(schema, name).unwrap_or_else(|| panic!("{schema}.{name} missing"))
    };
    let items = entry("Sales", "Order Items");
    assert_eq!(items.file, "tables/Sales.Order%20Items.ndjson");
    let lines = raw_lines(&summary.dir, &items.file);
    assert_eq!(lines[0], [("Id", "1"), ("select", "\"one\""), ("a.b", "10")].map(own));
    assert_eq!(entry("public", "my.schema_less").file, "tables/public.my%2Eschema_less.ndjson");
    assert_eq!(entry("public", "my.schema_less").rows, 3);
    // The parent holds only its own rows (ONLY); the child is a table of its own.
    assert_eq!(entry("public", "parent").rows, 1);
    assert_eq!(entry("public", "child").rows, 1);
    assert_eq!(entry("public", "child").table.inherits[0].name, "parent");
    let ident = entry("public", "ident");
    assert_eq!(ident.table.columns[0].identity, Some(pg2lite::model::catalog::Identity::Always));
    assert_eq!(ident.table.columns[2].generated.as_deref(), Some("(qty * 2)"));
    let lines = raw_lines(&summary.dir, &ident.file);
    assert_eq!(lines[1], [("id", "2"), ("qty", "7"), ("doubled", "14")].map(own));
    let empty = entry("public", "empty_shape");
    assert_eq!((empty.rows, empty.table.columns.len()), (2, 0));
    assert_eq!(std::fs::read_to_string(summary.dir.join(&empty.file)).unwrap(), "{}\n{}\n");
    // No primary key: the unique key on NOT NULL columns whose first column comes first.
    assert_eq!(entry("public", "uniq").table.order_by, ["a", "b"]);
}

fn own((a, b): (&str, &str)) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[test]
fn rows_come_in_primary_key_order_whatever_the_physical_order() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE k (a text, b int, PRIMARY KEY (b, a));
         INSERT INTO k VALUES ('z', 1), ('a', 2), ('b', 1), ('c', 0);",
    );
    let out = tempfile::tempdir().unwrap();
    let summary = export_db(&db, out.path());
    let text = std::fs::read_to_string(summary.dir.join("tables/public.k.ndjson")).unwrap();
    assert_eq!(
        text,
        "{\"a\":\"c\",\"b\":0}\n{\"a\":\"b\",\"b\":1}\n{\"a\":\"z\",\"b\":1}\n{\"a\":\"a\",\"b\":2}\n"
    );
}

#[test]
fn table_and_schema_selection_follows_pg_dump_patterns() {
    let db = TestDb::new();
    db.execute(SHAPES_SQL);
    let out = tempfile::tempdir().unwrap();
    let mut opts = options(&db.url(), out.path());
    opts.tables = vec!["\"Sales\".*".into(), "p*".into()];
    opts.exclude = vec!["child".into()];
    let summary = export::run(&opts, &Silent).unwrap();
    let mut names: Vec<&str> = summary.tables.iter().map(|t| t.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Sales.Order Items", "public.parent"]);
    opts.tables = vec!["nosuchtable".into()];
    let err = export::run(&opts, &Silent).unwrap_err().to_string();
    assert!(err.contains("nosuchtable"), "{err}");
    opts.tables = vec![];
    opts.schemas = vec!["nosuchschema".into()];
    let err = export::run(&opts, &Silent).unwrap_err().to_string();
    assert!(err.contains("nosuchschema"), "{err}");
}

#[test]
fn a_table_the_user_cannot_read_is_refused_before_anything_is_written() {
    let db = TestDb::new();
    let role = format!("reader_{}", &db.name()[2..10]);
    db.execute(&format!(
        "CREATE TABLE open_t (id int PRIMARY KEY); CREATE TABLE secret (id int PRIMARY KEY);
         CREATE ROLE {role} LOGIN; GRANT SELECT ON open_t TO {role};"
    ));
    let out = tempfile::tempdir().unwrap();
    let url = db.url().replacen("postgres@", &format!("{role}@"), 1);
    let err = export::run(&options(&url, out.path()), &Silent).unwrap_err().to_string();
    assert!(err.contains("permission denied") && err.contains("public.secret"), "{err}");
    assert!(err.contains("--exclude"), "{err}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "something was written");
    db.execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"));
}

/// Rows committed while the export runs are not in it: every table is read in the
/// snapshot taken at the start, whichever worker reads it.
#[test]
fn every_table_is_read_in_the_snapshot_taken_at_the_start() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE big1 AS SELECT i AS id, repeat('x', 200) AS pad FROM generate_series(1, 400000) i;
         CREATE TABLE big2 AS SELECT i AS id, repeat('y', 200) AS pad FROM generate_series(1, 400000) i;
         ALTER TABLE big1 ADD PRIMARY KEY (id); ALTER TABLE big2 ADD PRIMARY KEY (id);
         CREATE TABLE small (id int PRIMARY KEY); INSERT INTO small VALUES (1);
         ANALYZE;",
    );
    let out = tempfile::tempdir().unwrap();
    let opts = options(&db.url(), out.path());
    let handle = std::thread::spawn(move || export::run(&opts, &Silent));
    // Wait until both workers are copying the big tables, then commit a row elsewhere.
    let mut client = db.client();
    for _ in 0..600 {
        let copying: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                   AND query LIKE 'COPY (SELECT%big%' AND state = 'active'",
                &[],
            )
            .unwrap()
            .get(0);
        if copying == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    client
        .batch_execute("INSERT INTO small VALUES (2); INSERT INTO big1 VALUES (0, 'new')")
        .unwrap();
    let summary = handle.join().unwrap().unwrap();
    let m = Manifest::load(&summary.dir).unwrap();
    assert_eq!(m.table("public", "small").unwrap().rows, 1, "a row committed later was exported");
    assert_eq!(m.table("public", "big1").unwrap().rows, 400_000);
    assert!(m.snapshot.is_some());
}

/// The connection dies half way through a table: the export fails naming the table, and
/// nothing that looks like a finished export is left behind.
#[test]
fn an_export_that_fails_half_way_leaves_no_directory_behind() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE big AS SELECT i AS id, repeat('x', 500) AS pad FROM generate_series(1, 600000) i;
         ALTER TABLE big ADD PRIMARY KEY (id);",
    );
    let out = tempfile::tempdir().unwrap();
    let mut opts = options(&db.url(), out.path());
    opts.jobs = 1;
    let handle = std::thread::spawn(move || export::run(&opts, &Silent));
    let mut client = db.client();
    let mut killed = false;
    for _ in 0..1000 {
        let row = client
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                  WHERE datname = current_database() AND query LIKE 'COPY (SELECT%'
                    AND state = 'active'",
                &[],
            )
            .unwrap();
        if row.get::<_, i64>(0) > 0 {
            killed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(killed, "the COPY was never seen running");
    let err = handle.join().unwrap().unwrap_err().to_string();
    assert!(err.contains("public.big"), "{err}");
    let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// NDJSON writes a json value `null` and SQL NULL alike; the manifest keeps the difference.
#[test]
fn json_null_values_are_told_apart_from_sql_null_in_the_manifest() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE j (id int PRIMARY KEY, a jsonb, b json);
         INSERT INTO j VALUES (1, 'null', NULL), (2, NULL, 'null'), (3, '{}', ' null '), (4, NULL, NULL);",
    );
    let out = tempfile::tempdir().unwrap();
    let summary = export_db(&db, out.path());
    let m = Manifest::load(&summary.dir).unwrap();
    let nulls = &m.table("public", "j").unwrap().json_nulls;
    assert_eq!(nulls.get("a"), Some(&vec![1]));
    assert_eq!(nulls.get("b"), Some(&vec![2, 3]));
    let text = std::fs::read_to_string(summary.dir.join("manifest.json")).unwrap();
    db.execute("DELETE FROM j WHERE id < 4");
    let none = Manifest::load(&export_db(&db, out.path()).dir).unwrap();
    assert!(none.table("public", "j").unwrap().json_nulls.is_empty());
    assert!(text.contains("\"json_nulls\""), "recorded in the manifest itself");
}

/// The foreign keys the manifest of the export in `dir` gives `public.<table>`, as
/// (key columns, referenced table).
fn foreign_keys_of(dir: &Path, table: &str) -> Vec<(String, String)> {
    let m = Manifest::load(dir).unwrap();
    let entry = m.table("public", table).unwrap();
    entry
        .table
        .foreign_keys
        .iter()
        .map(|f| (f.columns.join(","), f.references.name.clone()))
        .collect()
}

/// Foreign keys declared on partitions, not on their root (as Pagila's payment has them), are
/// adopted by the root only when every partition's rows satisfy them.
#[test]
fn a_partitioned_root_adopts_its_partitions_foreign_keys_only_when_all_rows_satisfy_them() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE cust (id int PRIMARY KEY);
         CREATE TABLE shop (id int PRIMARY KEY);
         INSERT INTO cust VALUES (1), (2); INSERT INTO shop VALUES (1);
         CREATE TABLE pay (id int, month int, cust_id int, shop_id int) PARTITION BY LIST (month);
         CREATE TABLE pay_1 PARTITION OF pay FOR VALUES IN (1);
         CREATE TABLE pay_2 PARTITION OF pay FOR VALUES IN (2);
         ALTER TABLE pay_1 ADD FOREIGN KEY (cust_id) REFERENCES cust, ADD FOREIGN KEY (shop_id) REFERENCES shop;
         INSERT INTO pay VALUES (1, 1, 1, 1), (2, 2, 2, NULL), (3, 2, 1, 7);",
    );
    let out = tempfile::tempdir().unwrap();
    let fks = foreign_keys_of(&export_db(&db, out.path()).dir, "pay");
    // pay_2 holds cust_id 2 and 1 (both exist): adopted. It holds shop_id 7 (no such shop):
    // not adopted, since SQLite would then refuse the data Postgres let in.
    assert_eq!(fks, [("cust_id".to_owned(), "cust".to_owned())]);
}

/// Postgres clones a foreign key to a partitioned table once per partition; the manifest
/// holds the key once, to the root, and no note about partitions not in the export.
#[test]
fn a_foreign_key_to_a_partitioned_table_is_read_once_to_its_root() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE part (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
         CREATE TABLE part_eu PARTITION OF part FOR VALUES IN ('eu');
         CREATE TABLE part_us PARTITION OF part FOR VALUES IN ('us');
         CREATE TABLE refs (id int PRIMARY KEY, pid int, region text,
                            FOREIGN KEY (pid, region) REFERENCES part);
         INSERT INTO part VALUES (1, 'eu'), (2, 'us'); INSERT INTO refs VALUES (1, 1, 'eu');",
    );
    let out = tempfile::tempdir().unwrap();
    let fks = foreign_keys_of(&export_db(&db, out.path()).dir, "refs");
    assert_eq!(fks, [("pid,region".to_owned(), "part".to_owned())]);
}

/// Killed half way (SIGKILL: no chance to clean up), an export leaves only its hidden
/// `.partial` directory, which no tool takes for an export.
#[test]
fn an_export_killed_half_way_never_looks_finished() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE big AS SELECT i AS id, repeat(md5(i::text), 8) AS pad FROM generate_series(1, 500000) i;
         ALTER TABLE big ADD PRIMARY KEY (id);",
    );
    let out = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pg2lite"))
        .args(["export", "-q", "--source", &db.url(), "--out"])
        .arg(out.path())
        .spawn()
        .unwrap();
    let mut killed = false;
    for _ in 0..3000 {
        let partial = std::fs::read_dir(out.path())
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().ends_with(".partial"));
        let grown = partial.is_some_and(|p| {
            std::fs::metadata(p.path().join("tables/public.big.ndjson"))
                .is_ok_and(|m| m.len() > 8 << 20)
        });
        if grown {
            child.kill().unwrap();
            killed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.wait().unwrap();
    assert!(killed, "the export finished before it could be killed");
    let names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with('.') && names[0].ends_with(".partial"), "{names:?}");
    let dir = out.path().join(&names[0]);
    assert!(!dir.join("manifest.json").exists(), "a killed export has no manifest");
    pg2lite::verify::run(&pg2lite::verify::VerifyOptions::new(&dir), &Silent)
        .map(|r| assert!(!r.is_clean(), "verify must not accept it"))
        .unwrap();
}
