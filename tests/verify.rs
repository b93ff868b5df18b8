//! `verify` on export directories built here from the manifest types (real catalog tables of
//! many column types, NDJSON written as the export writes it, `Manifest::write`), then damaged
//! one way per test: each problem kind must be found, named, and located; a clean export must
//! pass, also under `sha256sum -c`; and the command line must exit 0, 1 or 2 with the text.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use pg2lite::model::catalog::{Column, Field, KeyConstraint, PgType, Table, TypeKind};
use pg2lite::model::manifest::{self, Filter, Manifest, Options, SourceInfo, TableEntry, Tool};
use pg2lite::progress::Silent;
use pg2lite::verify::{self, Level, Problem, VerifyOptions, VerifyReport};
use tempfile::TempDir;

use crate::support::cli::pg2lite;

const ACTOR: &str = "tables/public.actor.ndjson";
const KINDS: &str = "tables/public.kinds.ndjson";
const WEIRD: &str = "tables/my%2Eschema.We%2Fird.ndjson";
const EMPTY: &str = "tables/public.empty.ndjson";

const ACTOR_ROWS: &str = r#"{"actor_id":1,"first_name":"PENELOPE","last_name":"GUINESS","last_update":"2022-02-15T09:34:33.000000Z"}
{"actor_id":2,"first_name":"NICK","last_name":null,"last_update":"-0043-03-15T12:00:00.123456Z"}
{"actor_id":3,"first_name":"ED","last_name":"CHASE","last_update":"infinity"}
"#;

/// One line per row of `public.kinds`; the columns are in [`kinds_columns`].
const KINDS_ROWS: &str = concat!(
    r#"{"id":1,"small":-32768,"price":"123.45","f4":1.1,"f8":"NaN","flag":true,"#,
    r#""u":"123e4567-e89b-12d3-a456-426614174000","doc":{"k":[1,2]},"born":"2024-02-29","#,
    r#""at":"2024-01-02T03:04:05.123456","t":"24:00:00.000000","tz":"03:04:05.000000+05:30","#,
    r#""span":"P1Y2M3DT-4H5M6.5S","raw":"AAEC","mood":"happy","tags":["a",null],"#,
    r#""grid":[[1,2],[3,null]],"addr":{"street":"Main","zip":12345},"ip":"10.0.0.1/32"}"#,
    "\n",
    r#"{"id":2,"small":null,"price":"NaN","f4":"-Infinity","f8":-0.5,"flag":false,"#,
    r#""u":null,"doc":null,"born":"-infinity","at":"+10000-01-01T00:00:00.000000","#,
    r#""t":"00:00:00.000000","tz":"23:59:59.999999-15:59:59","span":"PT0S","raw":"","#,
    r#""mood":"sad","tags":"[0:1]={a,b}","grid":[],"addr":{"street":null,"zip":null},"#,
    r#""ip":null}"#,
    "\n",
    r#"{"id":9223372036854775807,"small":7,"price":"-999.99","f4":3.4028235e38,"#,
    r#""f8":1e308,"flag":null,"u":"00000000-0000-0000-0000-000000000000","doc":[1e400],"#,
    r#""born":"0001-01-01","at":"-4713-11-24T00:00:00.000000","t":"12:00:00.500000","#,
    r#""tz":"12:00:00.000000-08:00","span":"P-1D","raw":"/w==","mood":"ok","#,
    r#""tags":[],"grid":null,"addr":null,"ip":"::1"}"#,
    "\n",
);

/// An export directory with four tables, written and sealed by `Manifest::write`.
struct Export {
    dir: TempDir,
    manifest: Manifest,
}

impl Export {
    fn new() -> Export {
        let dir = tempfile::tempdir().expect("a temporary directory");
        fs::create_dir(dir.path().join(manifest::TABLES_DIR)).expect("tables/ is created");
        let weird = "{\"x\":\"caf\u{e9}\"}\n{\"x\":null}\n";
        let tables = [
            (table("public", "actor", actor_columns()), ACTOR_ROWS),
            (table("public", "kinds", kinds_columns()), KINDS_ROWS),
            // No key: its one column holds a null, which a key column never may.
            (Table::new("my.schema", "We/ird", vec![column("x", base("text"), true)]), weird),
            (table("public", "empty", vec![column("id", base("int4"), false)]), ""),
        ];
        let entries = tables.into_iter().map(|(t, rows)| entry(dir.path(), t, rows)).collect();
        let manifest = sample_manifest(entries);
        manifest.write(dir.path()).expect("the manifest is written");
        Export { dir, manifest }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn verify(&self, level: Level) -> VerifyReport {
        verify::run(&VerifyOptions::new(self.path()).with_level(level), &Silent)
            .expect("verify can read the directory")
    }

    fn read(&self, file: &str) -> String {
        fs::read_to_string(self.path().join(file)).expect("the file exists")
    }

    fn write(&self, file: &str, text: &str) {
        fs::write(self.path().join(file), text).expect("the file is written");
    }

    /// Rewrites line `n` (1-based) of a data file with `edit`.
    fn edit_line(&self, file: &str, n: usize, edit: impl FnOnce(&str) -> String) {
        let text = self.read(file);
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[n - 1] = edit(&lines[n - 1]);
        self.write(file, &(lines.join("\n") + "\n"));
    }

    /// Records every data file's current size and sha256 in the manifest (rows untouched)
    /// and rewrites manifest.json and SHA256SUMS: the export as a careless or malicious
    /// editor would leave it, so that only `--deep` can see what changed.
    fn reseal(&mut self) {
        for t in &mut self.manifest.tables {
            let (sha, bytes) = manifest::sha256_file(&self.dir.path().join(&t.file)).unwrap();
            (t.sha256, t.bytes) = (sha, bytes);
        }
        self.manifest.write(self.dir.path()).expect("the manifest is rewritten");
    }
}

fn sample_manifest(tables: Vec<TableEntry>) -> Manifest {
    Manifest {
        format: manifest::FORMAT.into(),
        version: manifest::VERSION,
        export_id: "20260101T000000Z-test".into(),
        tool: Tool::default(),
        created_at: "2026-01-01T00:00:00Z".into(),
        source: SourceInfo {
            host: "localhost".into(),
            port: 5432,
            database: "app".into(),
            user: "auditor".into(),
            server_version: "15.8".into(),
        },
        snapshot: Some("00000003-0000001B-1".into()),
        settings: BTreeMap::from([("TimeZone".into(), "UTC".into())]),
        options: Options::default(),
        tables,
        objects: Default::default(),
        manifest_sha256: String::new(),
    }
}

fn entry(dir: &Path, table: Table, rows: &str) -> TableEntry {
    let file = manifest::table_file(&table.schema, &table.name);
    fs::write(dir.join(&file), rows).expect("the data file is written");
    let (sha256, bytes) = manifest::sha256_file(&dir.join(&file)).expect("the file hashes");
    let rows = rows.lines().count() as u64;
    TableEntry {
        file,
        rows,
        bytes,
        sha256,
        filter: Filter::Whole,
        json_nulls: Default::default(),
        nan_values: Default::default(),
        json_depth: Default::default(),
        numeric_facts: Default::default(),
        table,
    }
}

fn table(schema: &str, name: &str, columns: Vec<Column>) -> Table {
    let first = columns[0].name.clone();
    Table {
        primary_key: Some(KeyConstraint { name: format!("{name}_pkey"), columns: vec![first] }),
        ..Table::new(schema, name, columns)
    }
}

fn column(name: &str, ty: PgType, nullable: bool) -> Column {
    Column { name: name.into(), ty, nullable, default: None, identity: None, generated: None }
}

fn base(name: &str) -> PgType {
    typed(name, TypeKind::Base { base: name.into(), precision: None, scale: None })
}

fn typed(name: &str, kind: TypeKind) -> PgType {
    PgType { name: name.into(), domain: None, kind }
}

fn array(element: PgType) -> PgType {
    typed(&format!("{}[]", element.name), TypeKind::Array { element: Box::new(element) })
}

fn actor_columns() -> Vec<Column> {
    vec![
        column("actor_id", base("int4"), false),
        column("first_name", base("text"), false),
        column("last_name", typed("character varying(45)", base("varchar").kind), true),
        column("last_update", typed("timestamp with time zone", base("timestamptz").kind), false),
    ]
}

fn kinds_columns() -> Vec<Column> {
    let numeric = TypeKind::Base { base: "numeric".into(), precision: Some(5), scale: Some(2) };
    let labels = ["sad", "ok", "happy"].map(String::from).to_vec();
    let address = vec![
        Field { name: "street".into(), ty: base("text") },
        Field { name: "zip".into(), ty: base("int4") },
    ];
    vec![
        column("id", base("int8"), false),
        column("small", base("int2"), true),
        column("price", typed("numeric(5,2)", numeric), false),
        column("f4", base("float4"), false),
        column("f8", base("float8"), false),
        column("flag", base("bool"), true),
        column("u", base("uuid"), true),
        column("doc", base("jsonb"), false),
        column("born", base("date"), false),
        column("at", base("timestamp"), false),
        column("t", base("time"), false),
        column("tz", base("timetz"), false),
        column("span", base("interval"), false),
        column("raw", base("bytea"), false),
        column("mood", typed("public.mood", TypeKind::Enum { labels }), false),
        column("tags", array(base("text")), false),
        column("grid", array(base("int4")), true),
        column("addr", typed("public.address", TypeKind::Composite { fields: address }), true),
        column("ip", base("inet"), true),
    ]
}

/// `(kind, file, line, column)` of each problem, for comparing whole reports.
fn found(report: &VerifyReport) -> Vec<(&'static str, &str, Option<u64>, Option<&str>)> {
    report
        .problems
        .iter()
        .map(|p| (p.kind.name(), p.file.as_str(), p.line, p.column.as_deref()))
        .collect()
}

fn lines(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("problem: {p}\n")).collect()
}

/// The only problem of a report.
fn only(report: &VerifyReport) -> String {
    assert_eq!(report.problems.len(), 1, "expected one problem, got:\n{}", lines(&report.problems));
    report.problems[0].to_string()
}

/// Replaces the text `from` by `to` on a line of `public.kinds`, reseals, and returns what
/// `--deep` finds (after checking that the default level finds nothing).
fn deep_after_kinds_edit(line: usize, from: &str, to: &str) -> VerifyReport {
    let mut export = Export::new();
    export.edit_line(KINDS, line, |l| {
        assert!(l.contains(from), "line {line} of the fixture has no {from:?}");
        l.replacen(from, to, 1)
    });
    export.reseal();
    assert_eq!(found(&export.verify(Level::Checksums)), vec![], "resealed, checksums agree");
    export.verify(Level::Deep)
}

#[test]
fn a_clean_export_has_no_problems_at_any_level() {
    let export = Export::new();
    for level in [Level::Fast, Level::Checksums, Level::Deep] {
        let report = export.verify(level);
        assert_eq!(lines(&report.problems), "", "level {level:?}");
    }
    let deep = export.verify(Level::Deep);
    assert_eq!(deep.summary(), "verified 6 files, 8 rows in 5 stages: 0 problems");
    assert_eq!(
        export.verify(Level::Fast).summary(),
        "verified 6 files, 8 rows in 3 stages: 0 problems"
    );
}

#[test]
fn sha256sum_checks_a_clean_export_and_rejects_a_changed_one() {
    let export = Export::new();
    let check =
        || Command::new("sha256sum").args(["-c", "SHA256SUMS"]).current_dir(export.path()).output();
    let out = check().expect("sha256sum runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sha256sum -c failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches(": OK").count(), 5, "four data files and manifest.json:\n{stdout}");
    export.edit_line(ACTOR, 1, |l| l.replace("PENELOPE", "PENELOPA"));
    let out = check().expect("sha256sum runs");
    assert!(!out.status.success(), "a changed file must fail sha256sum -c");
}

#[test]
fn one_changed_byte_of_the_same_size_is_reported_as_changed() {
    let export = Export::new();
    export.edit_line(ACTOR, 2, |l| l.replace("NICK", "NICE"));
    let report = export.verify(Level::Checksums);
    assert_eq!(found(&report), vec![("changed", ACTOR, None, None)]);
    let expected_sha = &export.manifest.tables[0].sha256;
    assert!(only(&report).starts_with(&format!("{ACTOR}: changed: sha256 is ")), "{report:?}");
    assert!(only(&report).ends_with(&format!(", the manifest says {expected_sha}")));
}

#[test]
fn fast_skips_checksums_so_a_same_size_change_passes_it() {
    let export = Export::new();
    export.edit_line(KINDS, 1, |l| l.replace("\"happy\"", "\"hapPy\""));
    assert_eq!(found(&export.verify(Level::Fast)), vec![]);
    assert_eq!(found(&export.verify(Level::Checksums)), vec![("changed", KINDS, None, None)]);
}

#[test]
fn a_truncated_file_is_reported_as_truncated_with_both_sizes() {
    let export = Export::new();
    let text = export.read(ACTOR);
    export.write(ACTOR, &text[..text.len() - 10]);
    let report = export.verify(Level::Checksums);
    let size = text.len();
    assert_eq!(
        only(&report),
        format!("{ACTOR}: truncated: {} bytes, the manifest says {size}", size - 10)
    );
}

#[test]
fn a_grown_file_is_reported_as_size_changed() {
    let export = Export::new();
    export.write(EMPTY, "{\"id\":1}\n");
    assert_eq!(
        only(&export.verify(Level::Fast)),
        format!("{EMPTY}: size changed: 9 bytes, the manifest says 0")
    );
}

#[test]
fn a_missing_file_is_reported_as_missing() {
    let export = Export::new();
    fs::remove_file(export.path().join(WEIRD)).unwrap();
    let report = export.verify(Level::Deep);
    assert_eq!(only(&report), format!("{WEIRD}: missing"));
}

#[test]
fn extra_files_are_reported_wherever_they_are() {
    let export = Export::new();
    export.write("tables/public.actor.ndjson.bak", "x");
    fs::create_dir_all(export.path().join("notes/deeper")).unwrap();
    export.write("notes/deeper/readme.txt", "hello");
    export.write(".hidden", "");
    let report = export.verify(Level::Fast);
    assert_eq!(
        found(&report),
        vec![
            ("extra", ".hidden", None, None),
            ("extra", "notes/deeper/readme.txt", None, None),
            ("extra", "tables/public.actor.ndjson.bak", None, None),
        ]
    );
    assert_eq!(
        report.problems[1].to_string(),
        "notes/deeper/readme.txt: extra file (not in the manifest)"
    );
}

#[test]
fn an_edited_manifest_breaks_its_checksum_and_the_sums_line() {
    let export = Export::new();
    let text = export.read(manifest::MANIFEST_FILE);
    export.write(manifest::MANIFEST_FILE, &text.replacen("\"rows\": 3", "\"rows\": 4", 1));
    let report = export.verify(Level::Checksums);
    assert_eq!(
        found(&report),
        vec![
            ("manifest_checksum", "manifest.json", None, None),
            ("sums_manifest_hash", "SHA256SUMS", Some(5), None),
        ]
    );
    assert!(
        report.problems[0].to_string().starts_with("manifest.json: manifest checksum mismatch: ")
    );
    let deep = export.verify(Level::Deep);
    assert!(
        lines(&deep.problems)
            .contains(&format!("problem: {ACTOR}: row count 3, manifest says 4\n"))
    );
}

#[test]
fn an_edited_sums_line_is_reported_with_its_line_number() {
    let export = Export::new();
    let sums = export.read(manifest::SUMS_FILE);
    let sha = &export.manifest.tables[1].sha256;
    let zeros = "0".repeat(64);
    export.write(manifest::SUMS_FILE, &sums.replace(sha.as_str(), &zeros));
    let report = export.verify(Level::Checksums);
    assert_eq!(
        only(&report),
        format!("SHA256SUMS line 2: gives {KINDS} the sha256 {zeros}, the manifest says {sha}")
    );
}

#[test]
fn sums_that_leave_out_a_file_or_list_a_stranger_are_reported() {
    let export = Export::new();
    let sums = export.read(manifest::SUMS_FILE);
    let kept: Vec<&str> = sums.lines().filter(|l| !l.ends_with(EMPTY)).collect();
    let stranger = format!("{}  tables/other.ndjson", "a".repeat(64));
    export.write(manifest::SUMS_FILE, &format!("{}\n{stranger}\n", kept.join("\n")));
    let report = export.verify(Level::Fast);
    assert_eq!(
        found(&report),
        vec![
            ("not_in_manifest", "SHA256SUMS", Some(5), None),
            ("not_in_sums", "SHA256SUMS", None, None)
        ]
    );
    assert_eq!(
        report.problems[1].to_string(),
        format!("SHA256SUMS: does not list {EMPTY}, which the manifest lists")
    );
}

#[test]
fn a_missing_sums_file_is_reported_and_the_other_stages_still_run() {
    let export = Export::new();
    fs::remove_file(export.path().join(manifest::SUMS_FILE)).unwrap();
    fs::remove_file(export.path().join(ACTOR)).unwrap();
    let report = export.verify(Level::Checksums);
    assert_eq!(
        found(&report),
        vec![("sums_missing", "SHA256SUMS", None, None), ("missing", ACTOR, None, None)]
    );
}

#[test]
fn a_missing_or_unparsable_manifest_ends_the_check_at_stage_one() {
    let export = Export::new();
    export.write(manifest::MANIFEST_FILE, "{\"format\": \"pg2lite-export\", ");
    export.write("stray", "");
    let report = export.verify(Level::Deep);
    assert_eq!(found(&report), vec![("manifest_invalid", "manifest.json", None, None)]);
    assert_eq!(report.summary(), "verified 0 files, 0 rows in 1 stage: 1 problem found");
    fs::remove_file(export.path().join(manifest::MANIFEST_FILE)).unwrap();
    assert_eq!(
        found(&export.verify(Level::Deep)),
        vec![("manifest_missing", "manifest.json", None, None)]
    );
}

#[test]
fn a_manifest_of_another_format_or_version_is_refused() {
    let mut export = Export::new();
    export.manifest.version = manifest::VERSION + 1;
    export.manifest.write(export.path()).unwrap();
    let report = export.verify(Level::Fast);
    assert_eq!(
        only(&report),
        "manifest.json: version 2 is newer than this pg2lite understands (1); upgrade pg2lite"
    );
    export.manifest.version = manifest::VERSION;
    export.manifest.format = "pg_dump".into();
    export.manifest.write(export.path()).unwrap();
    assert!(
        only(&export.verify(Level::Fast))
            .contains("not a pg2lite export manifest (format \"pg_dump\"")
    );
}

#[test]
fn a_manifest_path_outside_the_directory_is_reported_and_not_opened() {
    let mut export = Export::new();
    export.manifest.tables[3].file = "../outside.ndjson".into();
    export.manifest.write(export.path()).unwrap();
    let report = export.verify(Level::Deep);
    assert_eq!(
        found(&report),
        vec![("unsafe_path", "../outside.ndjson", None, None), ("extra", EMPTY, None, None)]
    );
}

#[test]
fn a_file_named_for_two_tables_is_reported_once_and_not_as_extra() {
    let mut export = Export::new();
    export.manifest.tables[3].file = WEIRD.into();
    export.manifest.write(export.path()).unwrap();
    fs::remove_file(export.path().join(EMPTY)).unwrap();
    let report = export.verify(Level::Checksums);
    assert_eq!(
        lines(&report.problems),
        format!(
            "problem: {WEIRD}: named by the manifest for several tables: my.schema.We/ird, \
             public.empty\nproblem: SHA256SUMS line 4: lists {WEIRD} a second time\n"
        )
    );
}

#[test]
fn a_directory_that_does_not_exist_is_an_error_not_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let opts = VerifyOptions::new(dir.path().join("nope"));
    let err = verify::run(&opts, &Silent).expect_err("no directory, no report");
    assert!(err.to_string().contains("nope: no such directory"), "{err}");
}

#[test]
fn a_malformed_line_is_named_with_its_line_number_under_deep_only() {
    let mut export = Export::new();
    export.edit_line(ACTOR, 2, |l| l.replace("\"NICK\"", "NICK"));
    export.reseal();
    assert_eq!(found(&export.verify(Level::Checksums)), vec![]);
    let report = export.verify(Level::Deep);
    assert_eq!(found(&report), vec![("malformed_line", ACTOR, Some(2), None)]);
    assert_eq!(
        only(&report),
        format!("{ACTOR} line 2: malformed line: expected value at character 28")
    );
}

#[test]
fn a_row_count_that_differs_from_the_manifest_is_caught_under_deep() {
    let mut export = Export::new();
    let text = export.read(ACTOR);
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains("\"ED\"")).collect();
    export.write(ACTOR, &(kept.join("\n") + "\n"));
    export.reseal();
    assert_eq!(found(&export.verify(Level::Checksums)), vec![], "sizes and sums were resealed");
    assert_eq!(only(&export.verify(Level::Deep)), format!("{ACTOR}: row count 2, manifest says 3"));
}

#[test]
fn a_last_line_without_a_newline_is_reported() {
    let mut export = Export::new();
    let text = export.read(WEIRD);
    export.write(WEIRD, text.trim_end());
    export.reseal();
    let report = export.verify(Level::Deep);
    assert_eq!(found(&report), vec![("no_final_newline", WEIRD, None, None)]);
}

#[test]
fn keys_that_are_not_the_columns_in_order_are_reported() {
    let report = deep_after_kinds_edit(
        1,
        r#""small":-32768,"price":"123.45""#,
        r#""price":"123.45","small":-32768"#,
    );
    assert_eq!(
        only(&report),
        format!(
            "{KINDS} line 1, column \"small\": key \"price\" where column \"small\" was expected \
         (keys must be the table's columns, in order)"
        )
    );
    let report = deep_after_kinds_edit(3, r#","ip":"::1""#, "");
    assert_eq!(only(&report), format!("{KINDS} line 3, column \"ip\": no key for column \"ip\""));
}

#[test]
fn an_integer_out_of_range_is_reported_under_deep() {
    let report = deep_after_kinds_edit(3, r#""small":7"#, r#""small":32768"#);
    assert_eq!(
        only(&report),
        format!("{KINDS} line 3, column \"small\": 32768 is out of range for int2")
    );
    let report = deep_after_kinds_edit(3, "9223372036854775807", "9223372036854775808");
    assert_eq!(
        only(&report),
        format!("{KINDS} line 3, column \"id\": 9223372036854775808 is out of range for int8")
    );
}

#[test]
fn a_timestamp_in_another_format_is_reported_under_deep() {
    let mut export = Export::new();
    export.edit_line(ACTOR, 1, |l| l.replace("2022-02-15T09:34:33.000000Z", "2024-01-02 03:04"));
    export.reseal();
    assert_eq!(
        only(&export.verify(Level::Deep)),
        format!(
            "{ACTOR} line 1, column \"last_update\": \"2024-01-02 03:04\" is not a timestamp with \
             time zone (expected 2024-01-02T03:04:05.000000Z)"
        )
    );
}

#[test]
fn an_uppercase_uuid_is_reported_under_deep() {
    let report = deep_after_kinds_edit(1, "123e4567-e89b", "123E4567-E89B");
    assert!(
        only(&report).starts_with(&format!(
            "{KINDS} line 1, column \"u\": \"123E4567-E89B-12d3-a456-426614174000\" is not a uuid \
             (expected lowercase canonical form"
        )),
        "{}",
        only(&report)
    );
}

#[test]
fn bytea_that_is_not_standard_base64_is_reported_under_deep() {
    let report = deep_after_kinds_edit(3, r#""raw":"/w==""#, r#""raw":"_w==""#);
    assert_eq!(
        only(&report),
        format!(
            "{KINDS} line 3, column \"raw\": \"_w==\" is not a bytea (expected standard base64)"
        )
    );
}

#[test]
fn an_enum_value_that_is_not_a_label_is_reported_under_deep() {
    let report = deep_after_kinds_edit(2, r#""mood":"sad""#, r#""mood":"glad""#);
    assert_eq!(
        only(&report),
        format!(
            "{KINDS} line 2, column \"mood\": \"glad\" is not a label of public.mood (\"sad\", \"ok\", \"happy\")"
        )
    );
}

#[test]
fn a_numeric_beyond_its_precision_is_reported_under_deep() {
    let report = deep_after_kinds_edit(1, r#""price":"123.45""#, r#""price":"1234.50""#);
    assert_eq!(
        only(&report),
        format!("{KINDS} line 1, column \"price\": \"1234.50\" does not fit numeric(5,2)")
    );
    let report = deep_after_kinds_edit(1, r#""price":"123.45""#, r#""price":123.45"#);
    assert!(
        only(&report).contains("123.45 is not a numeric(5,2) (expected a string of exact decimal")
    );
}

#[test]
fn null_in_a_not_null_column_is_reported_under_deep_but_not_in_jsonb() {
    let report = deep_after_kinds_edit(1, r#""born":"2024-02-29""#, r#""born":null"#);
    assert_eq!(
        only(&report),
        format!("{KINDS} line 1, column \"born\": null in a NOT NULL column")
    );
}

#[test]
fn a_bad_element_deep_in_an_array_or_composite_is_located() {
    let report = deep_after_kinds_edit(1, "[[1,2],[3,null]]", r#"[[1,2],[3,"x"]]"#);
    assert_eq!(
        only(&report),
        format!(
            "{KINDS} line 1, column \"grid\", element [2][2]: \"x\" is not an int4 (expected an integer)"
        )
    );
    let report = deep_after_kinds_edit(1, r#""zip":12345"#, r#""zip":1.5"#);
    assert!(
        only(&report).contains("column \"addr\", field \"zip\": 1.5 is not an int4"),
        "{}",
        only(&report)
    );
}

#[test]
fn line_problems_past_the_cap_are_counted_not_listed() {
    let mut export = Export::new();
    let line = r#"{"id":"one"}"#;
    export.write(EMPTY, &format!("{line}\n").repeat(25));
    export.reseal();
    let report = verify::run(
        &VerifyOptions::new(export.path()).with_level(Level::Deep).with_max_problems_per_file(3),
        &Silent,
    )
    .unwrap();
    let kinds: Vec<_> = found(&report).into_iter().map(|(k, _, line, _)| (k, line)).collect();
    assert_eq!(
        kinds,
        vec![
            ("value", Some(1)),
            ("value", Some(2)),
            ("value", Some(3)),
            ("more", None),
            ("row_count", None)
        ]
    );
    assert_eq!(
        report.problems[3].to_string(),
        format!("{EMPTY}: and 22 more problems in this file")
    );
    assert_eq!(report.problem_count(), 26);
    assert!(report.summary().ends_with(": 26 problems found"), "{}", report.summary());
}

#[test]
fn the_cli_exits_0_on_a_clean_export_with_the_summary_on_stdout() {
    let export = Export::new();
    let got = pg2lite(&["verify", "--deep"]).arg(export.path()).assert_code(0);
    let expected = "signature: none (the export is not signed)\n\
                    verified 6 files, 8 rows in 5 stages: 0 problems\n";
    assert_eq!(got.stdout, expected, "{got}");
}

#[test]
fn the_cli_exits_1_and_prints_each_problem() {
    let export = Export::new();
    fs::remove_file(export.path().join(EMPTY)).unwrap();
    export.write("tables/x.tmp", "");
    let got = pg2lite(&["verify", "--quiet"]).arg(export.path()).assert_code(1);
    let expected = format!(
        "problem: {EMPTY}: missing\nproblem: tables/x.tmp: extra file (not in the manifest)\n\
         signature: none (the export is not signed)\n\
         verified 6 files, 8 rows in 4 stages: 2 problems found\n"
    );
    assert_eq!(got.stdout, expected, "{got}");
    assert_eq!(got.stderr, "", "{got}");
}

#[test]
fn the_cli_exits_2_when_the_directory_does_not_exist() {
    let got = pg2lite(&["verify", "no-such-export"]).assert_code(2);
    let got = got.assert_stderr_contains(
        "pg2lite: error: no-such-export: no such directory (verify takes an export directory",
    );
    assert_eq!(got.stdout, "", "{got}");
    pg2lite(&["verify", "--fast", "--deep", "x"])
        .assert_code(2)
        .assert_stderr_contains("cannot be used with");
}

#[test]
fn the_cli_prints_typed_problems_as_json() {
    let mut export = Export::new();
    export.edit_line(ACTOR, 3, |l| l.replace("\"ED\"", "null"));
    export.reseal();
    let got = pg2lite(&["verify", "--deep", "--json", "--quiet"]).arg(export.path()).assert_code(1);
    let json: serde_json::Value = serde_json::from_str(&got.stdout).expect("stdout is JSON");
    assert_eq!(json["problem_count"], 1, "{got}");
    assert_eq!(json["clean"], false);
    assert_eq!((json["files"].as_u64(), json["rows"].as_u64()), (Some(6), Some(8)));
    assert_eq!(
        json["stages"],
        serde_json::json!(["manifest", "sums", "files", "checksums", "deep"])
    );
    assert_eq!(
        json["problems"][0],
        serde_json::json!({
            "kind": "null",
            "file": ACTOR,
            "line": 3,
            "column": "first_name",
            "message": format!("{ACTOR} line 3, column \"first_name\": null in a NOT NULL column"),
        })
    );
}

/// One column per type family, filled by Postgres with random values and the edge cases
/// DESIGN.md names (infinity, BC and five-digit years, NaN, 24:00, odd array bounds).
const EVERY_TYPE_SQL: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text, c numeric(4,1)[]);
CREATE DOMAIN price AS numeric(8,2) NOT NULL;
CREATE TABLE every_type (
  id int8 PRIMARY KEY, i2 int2, i4 int4 NOT NULL, o oid, n numeric, p price, f4 float4, f8 float8,
  b bool, u uuid, j json, jb jsonb NOT NULL, ts timestamp, tstz timestamptz, d date, t time,
  ttz timetz, iv interval, by bytea, m mood, ints int4[], texts text[], grid float8[],
  pr pair, prs pair[], ip inet, mo money, ch char(5), r int4range, bits varbit, iv2 int2vector);
SELECT setseed(0.17);
INSERT INTO every_type SELECT i,
  (random() * 65535 - 32768)::int2, (random() * 4e9 - 2e9)::int4, (random() * 4e9)::int8::oid,
  ((random() - 0.5) * 10 ^ (i % 40 - 20))::numeric, (random() * 1e6 - 5e5)::numeric(8,2),
  ((random() - 0.5) * 10 ^ (i % 70 - 35))::float4, (random() - 0.5) * 10 ^ (i % 600 - 300),
  random() < 0.5, gen_random_uuid(),
  json_build_object('i', i, 'big', 123456789012345678901234567890, 'a', ARRAY[i, -i]),
  jsonb_build_object('k', i::text, 'nested', jsonb_build_array(1.50, null, 'x')),
  timestamp '0001-01-01' + random() * interval '9998 years',
  timestamptz '1970-01-01 00:00+00' + (random() - 0.5) * interval '8000 years',
  date '0001-01-01' + (random() * 3650000)::int,
  time '00:00' + random() * interval '24 hours',
  (time '00:00' + random() * interval '24 hours')::timetz,
  make_interval((random() * 20 - 10)::int, (random() * 30 - 15)::int, 0,
                (random() * 60 - 30)::int, (random() * 48 - 24)::int, (random() * 120 - 60)::int,
                round(((random() - 0.5) * 200)::numeric, (i % 7))::float8),
  decode(md5(i::text), 'hex'), (ARRAY['sad', 'ok', 'happy']::mood[])[i % 3 + 1],
  ARRAY[i::int4, NULL, -i::int4], ARRAY['a"b', NULL, 'c\d', ''],
  ARRAY[[random(), random()], [-random(), 'NaN']],
  ROW(i, 'x' || i, ARRAY[1.5, -2.5])::pair, ARRAY[ROW(i, NULL, NULL)::pair, NULL],
  ('10.0.' || (i % 256) || '.1/24')::inet, (random() * 1e6)::numeric(10,2)::money,
  'ab', int4range(i::int4, i::int4 + 10), (i::int4)::bit(8)::varbit, '1 2 3'::int2vector
FROM generate_series(1, 1500) i;
INSERT INTO every_type (id, i4, n, p, f4, f8, jb, ts, tstz, d, t, ttz, iv, by, ints, grid, pr, ip)
VALUES
  (-1, 0, 'NaN', 0, 'NaN', '-Infinity', 'null', 'infinity', '-infinity', '-infinity',
   '24:00:00', '00:00:00-01:02:03', '0', '', '[0:1]={1,2}', '{}', '(,,)', '::1'),
  (-2, 0, 'Infinity', 1, '-0', 1e308, '[]', '0044-03-15 12:00:00 BC', '10000-01-01 00:00+00',
   '4713-11-24 BC', '00:00:00.000001', '23:59:59.999999+15:59', '-1 year -2 months 3 days
   -04:05:06.5', '\x00ff', '[1:1][0:1]={{1,2}}', '{{1},{2}}', '(1,"",{})', '192.168.0.1');
"#;

#[test]
fn a_real_export_of_every_type_family_verifies_clean_under_deep() {
    let db = crate::support::pg::TestDb::new();
    db.execute(EVERY_TYPE_SQL);
    let out = tempfile::tempdir().unwrap();
    let summary = crate::export::export_db(&db, out.path());
    let report = verify::run(&VerifyOptions::new(&summary.dir).with_level(Level::Deep), &Silent)
        .expect("the export directory is readable");
    assert_eq!(lines(&report.problems), "", "a fresh export must verify clean");
    assert_eq!(report.rows, 1502);
    let file = "tables/public.every_type.ndjson";
    let text = fs::read_to_string(summary.dir.join(file)).unwrap();
    fs::write(summary.dir.join(file), text.replacen("\"id\":-2,", "\"id\":\"-2\",", 1)).unwrap();
    let report = verify::run(&VerifyOptions::new(&summary.dir).with_level(Level::Deep), &Silent)
        .expect("the export directory is readable");
    let kinds: Vec<_> =
        found(&report).into_iter().map(|(k, _, line, col)| (k, line, col)).collect();
    assert_eq!(kinds, vec![("size_changed", None, None), ("value", Some(1), Some("id"))]);
}

#[test]
fn the_cli_verifies_a_real_pagila_export_deeply_and_finds_a_deleted_row() {
    let db = crate::support::pg::TestDb::new();
    db.load_pagila();
    let out = tempfile::tempdir().unwrap();
    let summary = crate::export::export_db(&db, out.path());
    let rows: u64 = summary.tables.iter().map(|t| t.rows).sum();
    let files = summary.tables.len() + 2;
    let got = pg2lite(&["verify", "--deep"]).arg(&summary.dir).assert_code(0);
    let expected = format!(
        "signature: none (the export is not signed)\n\
         verified {files} files, {} rows in 5 stages: 0 problems\n",
        grouped(rows)
    );
    assert_eq!(got.stdout, expected, "{got}");
    let actor = summary.dir.join(ACTOR);
    let text = fs::read_to_string(&actor).unwrap();
    let (_, rest) = text.split_once('\n').unwrap();
    fs::write(&actor, rest).unwrap();
    let got = pg2lite(&["verify", "--deep", "--quiet"]).arg(&summary.dir).assert_code(1);
    assert!(got.stdout.contains(&format!("problem: {ACTOR}: truncated: ")), "{got}");
    assert!(
        got.stdout.contains(&format!("problem: {ACTOR}: row count 199, manifest says 200\n")),
        "{got}"
    );
}

/// `49636` as `49,636`, as the summary writes counts.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Issue 12: a data file that is a symbolic link (here to a copy of itself outside the
/// export, so every checksum holds) is reported, named with where it points, and not read.
#[test]
fn a_data_file_that_is_a_symbolic_link_is_not_a_file_and_is_not_followed() {
    let export = Export::new();
    let outside = tempfile::tempdir().unwrap();
    let copy = outside.path().join("actor.ndjson");
    fs::copy(export.path().join(ACTOR), &copy).unwrap();
    fs::remove_file(export.path().join(ACTOR)).unwrap();
    std::os::unix::fs::symlink(&copy, export.path().join(ACTOR)).unwrap();
    let report = export.verify(Level::Deep);
    assert_eq!(found(&report), vec![("not_a_file", ACTOR, None, None)]);
    let text = only(&report);
    assert!(text.contains(&format!("a symbolic link to {}", copy.display())), "{text}");
    assert!(text.contains("neither followed nor read"), "{text}");
}

#[test]
fn a_fifo_in_place_of_a_data_file_or_sha256sums_is_reported_without_blocking() {
    let export = Export::new();
    for file in [KINDS, manifest::SUMS_FILE] {
        fs::remove_file(export.path().join(file)).unwrap();
        let made = Command::new("mkfifo").arg(export.path().join(file)).status().unwrap();
        assert!(made.success());
    }
    let report = export.verify(Level::Deep);
    assert_eq!(
        found(&report),
        vec![("not_a_file", manifest::SUMS_FILE, None, None), ("not_a_file", KINDS, None, None)]
    );
    assert!(lines(&report.problems).contains("a FIFO (named pipe)"), "{}", lines(&report.problems));
}

#[test]
fn a_manifest_over_256_mib_is_too_large_and_ends_the_check() {
    let export = Export::new();
    let file =
        fs::OpenOptions::new().write(true).open(export.path().join("manifest.json")).unwrap();
    file.set_len(pg2lite::fsio::METADATA_LIMIT + 1).unwrap();
    let report = export.verify(Level::Deep);
    assert_eq!(found(&report), vec![("too_large", "manifest.json", None, None)]);
    assert!(only(&report).contains("268435457 bytes"), "{}", only(&report));
}
