//! Tests of the schema plan: names, types, DDL, defaults, keys, indexes, load order and
//! tenancy, each DDL executed by a real (in-memory) SQLite.

use rusqlite::Connection;

use super::testkit::*;
use super::*;
use crate::mapping::NumericTarget;
use crate::model::catalog::{Column, FkAction, Index, PgType, Table, TypeKind};
use crate::sqlite::meta::{ExportMeta, insert_columns, insert_export, meta_ddl};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn opts() -> SchemaFlags {
    SchemaFlags::default()
}

fn facts() -> ExportFacts {
    ExportFacts::default()
}

/// [`super::plan`] with flags or facts, the other at its default.
fn plan(tables: &[Table], o: &impl PlanWith) -> std::result::Result<Plan, Error> {
    o.plan_of(tables)
}

fn plan_of(tables: &[Table]) -> Plan {
    plan(tables, &opts()).unwrap_or_else(|e| panic!("plan failed: {e}"))
}

fn names_error(tables: &[Table], o: &impl PlanWith) -> String {
    match plan(tables, o) {
        Err(e @ Error::Names { .. }) => e.to_string(),
        Err(e) => panic!("expected a naming error, got {e}"),
        Ok(_) => panic!("expected a naming error, the plan succeeded"),
    }
}

/// Executes a whole script in a fresh SQLite, as import would.
fn sqlite_with(script: &str) -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    conn.execute_batch(script).map_err(|e| format!("{e}\nin:\n{script}"))?;
    Ok(conn)
}

fn users(name: &str) -> Table {
    with_pk(table("public", name, vec![not_null(col("id", ty("int8")))]), &["id"])
}

fn rename_from(message: &str) -> Rename {
    let start = message.find("--rename '").expect("a --rename in the message") + 10;
    let end = message[start..].find('\'').expect("closing quote") + start;
    message[start..end].parse().expect("the suggested rename parses")
}

#[test]
fn tables_differing_only_in_case_collide_with_the_exact_message_and_fix() -> Result {
    let tables = [users("Users"), users("users")];
    let message = names_error(&tables, &opts());
    assert_eq!(
        message,
        "tables public.\"Users\" and public.users would both be named \"users\" in SQLite \
         (names are case-insensitive there); rename one: --rename 'public.Users=users_2'"
    );
    let fixed = SchemaFlags { renames: vec![rename_from(&message)], ..opts() };
    let p = plan(&tables, &fixed)?;
    let names: Vec<&str> = p.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["users_2", "users"]);
    Ok(())
}

#[test]
fn a_schema_prefixed_name_collides_with_a_public_table_of_that_name() {
    let tables = [users("cd_members"), users("members")];
    let mut tables = tables.to_vec();
    tables[1].schema = "cd".into();
    let message = names_error(&tables, &opts());
    assert_eq!(
        message,
        "tables public.cd_members and cd.members would both be named \"cd_members\" in SQLite \
         (names are case-insensitive there); rename one: --rename 'cd.members=cd_members_2'"
    );
}

#[test]
fn columns_differing_only_in_case_collide_and_a_column_rename_fixes_it() -> Result {
    let t = table("public", "t", vec![col("Value", ty("text")), col("value", ty("text"))]);
    let message = names_error(std::slice::from_ref(&t), &opts());
    assert_eq!(
        message,
        "columns public.t.\"Value\" and public.t.value would both be named \"value\" in SQLite \
         (names are case-insensitive there); rename one: --rename 'public.t.Value=value_2'"
    );
    let fixed = SchemaFlags { renames: vec![rename_from(&message)], ..opts() };
    let p = plan(&[t], &fixed)?;
    let cols: Vec<&str> = p.tables[0].columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(cols, ["value_2", "value"]);
    sqlite_with(&ddl(&p))?;
    Ok(())
}

#[test]
fn names_reserved_by_sqlite_or_pg2lite_are_refused_with_a_rename() {
    let message = names_error(&[users("_pg2lite_export"), users("sqlite_stuff")], &opts());
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(
        lines,
        [
            "table public._pg2lite_export would be named \"_pg2lite_export\" in SQLite, but \
             pg2lite keeps that name for its own metadata; rename it: \
             --rename 'public._pg2lite_export=_pg2lite_export_2'",
            "table public.sqlite_stuff would be named \"sqlite_stuff\" in SQLite, but SQLite \
             reserves names beginning with \"sqlite_\"; rename it: \
             --rename 'public.sqlite_stuff=pg_sqlite_stuff'",
        ]
    );
}

#[test]
fn index_names_are_schema_prefixed_and_collide_with_tables_across_schemas() {
    let mut a = users("accounts");
    a.schema = "s".into();
    a.indexes.push(index("idx", &["id"]));
    let b = users("s_idx");
    let message = names_error(&[a, b], &opts());
    assert!(
        message.starts_with("table public.s_idx and index s.idx would both be named \"s_idx\""),
        "got: {message}"
    );
    assert!(message.ends_with("rename one: --rename 's.idx=s_idx_2'"), "got: {message}");
}

#[test]
fn every_collision_is_reported_at_once() {
    let t = table("public", "t", vec![col("A", ty("text")), col("a", ty("text"))]);
    let message = names_error(&[users("X"), users("x"), t], &opts());
    assert_eq!(message.lines().count(), 2, "got: {message}");
}

#[test]
fn renames_parse_every_documented_form_and_refuse_the_rest() {
    let r: Rename = "users=people".parse().unwrap();
    let q = |s: &str, n: &str| QualifiedName { schema: s.into(), name: n.into() };
    assert_eq!(r.from, RenameFrom::Relation(q("public", "users")));
    let r: Rename = "cd.Members=m".parse().unwrap();
    assert_eq!(r.from, RenameFrom::Relation(q("cd", "Members")));
    let r: Rename = "\"my.s\".\"t\"\"x\".col=c=d".parse().unwrap();
    assert_eq!(r.from, RenameFrom::Column { table: q("my.s", "t\"x"), column: "col".into() });
    assert_eq!(r.to, "c=d");
    for bad in ["users", "users=", "a.b.c.d=x", "a..b=x", "\"a=x", ".a=x"] {
        let err = bad.parse::<Rename>().expect_err(bad).to_string();
        assert!(err.starts_with(&format!("--rename '{bad}'")), "{bad}: {err}");
    }
}

#[test]
fn a_rename_of_nothing_or_of_the_same_object_twice_is_an_error() {
    let o = SchemaFlags { renames: vec!["public.usres=x".parse().unwrap()], ..opts() };
    let err = plan(&[users("users")], &o).unwrap_err().to_string();
    assert_eq!(err, "--rename public.usres: the export has no such table, index or column");
    let o = SchemaFlags {
        renames: vec!["users=a".parse().unwrap(), "public.users=b".parse().unwrap()],
        ..opts()
    };
    let err = plan(&[users("users")], &o).unwrap_err().to_string();
    assert!(err.contains("renamed twice"), "{err}");
}

#[test]
fn renames_reach_foreign_keys_and_indexes() -> Result {
    let parent = users("users");
    let mut child = table("public", "posts", vec![col("user_id", ty("int8"))]);
    child.foreign_keys.push(fk("posts_user_fk", &["user_id"], ("public", "users"), &["id"]));
    child.indexes.push(index("posts_user_idx", &["user_id"]));
    let renames = [
        "public.users=people",
        "public.users.id=person_id",
        "public.posts.user_id=person",
        "public.posts_user_idx=by_person",
    ];
    let o = SchemaFlags { renames: renames.iter().map(|r| r.parse().unwrap()).collect(), ..opts() };
    let p = plan(&[parent, child], &o)?;
    let posts = p.table("public", "posts").unwrap();
    assert!(
        posts
            .create_table
            .contains("FOREIGN KEY (\"person\") REFERENCES \"people\" (\"person_id\")"),
        "{}",
        posts.create_table
    );
    assert_eq!(posts.create_indexes, ["CREATE INDEX \"by_person\" ON \"posts\" (\"person\");"]);
    sqlite_with(&ddl(&p))?;
    Ok(())
}

fn declared(t: PgType, policy: NumericPolicy) -> (SqliteType, Conversion) {
    let o = SchemaFlags { numeric: policy, ..opts() };
    let p = plan(&[table("public", "t", vec![col("c", t)])], &o).unwrap();
    let c = &p.tables[0].columns[0];
    (c.declared, c.conversion)
}

#[test]
fn each_postgres_type_gets_the_declared_type_and_conversion_of_the_mapping_table() {
    use Conversion as C;
    use SqliteType as S;
    let auto = NumericPolicy::Auto;
    let cases = [
        (ty("int2"), S::Integer, C::Integer),
        (ty("int4"), S::Integer, C::Integer),
        (ty("int8"), S::Integer, C::Integer),
        (ty("oid"), S::Integer, C::Integer),
        (ty("bool"), S::Integer, C::Boolean),
        (ty("float4"), S::Real, C::Float),
        (ty("float8"), S::Real, C::Float),
        (ty("text"), S::Text, C::Text),
        (ty("varchar"), S::Text, C::Text),
        (ty("bpchar"), S::Text, C::Text),
        (ty("name"), S::Text, C::Text),
        (ty("public.citext"), S::Text, C::Text),
        (enum_ty("public.mood", &["a"]), S::Text, C::Text),
        (ty("uuid"), S::Text, C::Text),
        (ty("json"), S::Text, C::Json),
        (ty("jsonb"), S::Text, C::Json),
        (ty("timestamptz"), S::Text, C::Datetime(crate::mapping::TimeForm::TimestampTz)),
        (ty("timestamp"), S::Text, C::Datetime(crate::mapping::TimeForm::Timestamp)),
        (ty("date"), S::Text, C::Datetime(crate::mapping::TimeForm::Date)),
        (ty("time"), S::Text, C::Datetime(crate::mapping::TimeForm::Time)),
        (ty("timetz"), S::Text, C::Datetime(crate::mapping::TimeForm::Opaque)),
        (ty("interval"), S::Text, C::Datetime(crate::mapping::TimeForm::Opaque)),
        (ty("bytea"), S::Blob, C::Bytea),
        (array(ty("int4")), S::Text, C::Structured),
        (composite("public.address"), S::Text, C::Structured),
        (ty("inet"), S::Text, C::Text),
        (ty("tsvector"), S::Text, C::Text),
        (ty("money"), S::Text, C::Numeric(NumericTarget::Text)),
        (ty("numeric"), S::Text, C::Numeric(NumericTarget::Text)),
    ];
    for (t, s, c) in cases {
        let name = t.name.clone();
        assert_eq!(declared(t, auto), (s, c), "for {name}");
    }
}

#[test]
fn numeric_auto_follows_precision_and_scale_and_the_policy_overrides_it() {
    use NumericTarget as N;
    let target = |p, s, policy| match declared(numeric(p, s), policy).1 {
        Conversion::Numeric(t) => t,
        other => panic!("numeric became {other:?}"),
    };
    let auto = NumericPolicy::Auto;
    assert_eq!(target(10, 0, auto), N::Integer);
    assert_eq!(target(18, 0, auto), N::Integer);
    assert_eq!(target(16, -2, auto), N::Integer);
    assert_eq!(target(19, 0, auto), N::Text);
    assert_eq!(target(5, 2, auto), N::Real);
    assert_eq!(target(15, 15, auto), N::Real);
    assert_eq!(target(16, 2, auto), N::Text);
    assert_eq!(target(40, 10, auto), N::Text);
    assert_eq!(target(10, 0, NumericPolicy::Text), N::Text);
    assert_eq!(target(40, 10, NumericPolicy::Real), N::Real);
    assert_eq!("real".parse::<NumericPolicy>().unwrap(), NumericPolicy::Real);
    assert!(
        "exact".parse::<NumericPolicy>().unwrap_err().to_string().contains("auto, text or real")
    );
}

fn film() -> Table {
    let mut t = with_pk(
        table(
            "public",
            "film",
            vec![
                identity(col("film_id", ty("int4"))),
                not_null(col("title", ty("text"))),
                with_default(
                    col("rating", enum_ty("public.mpaa_rating", &["G", "PG", "R"])),
                    "'G'::public.mpaa_rating",
                ),
                with_default(not_null(col("price", numeric(5, 2))), "4.99"),
                col("doc", ty("jsonb")),
                col("email", ty("public.citext")),
                with_default(not_null(col("last_update", ty("timestamptz"))), "now()"),
            ],
        ),
        &["film_id"],
    );
    t.unique.push(key("film_title_key", &["title"]));
    t.indexes.push(Index {
        constraint: Some("film_title_key".into()),
        unique: true,
        ..index("film_title_key", &["title"])
    });
    t.checks.push(check("film_price_check", "CHECK ((price >= (0)::numeric))"));
    t
}

#[test]
fn create_table_is_readable_one_column_per_line_and_runs_in_sqlite() -> Result {
    let p = plan_of(&[film()]);
    let expected = "CREATE TABLE \"film\" (
    \"film_id\" INTEGER PRIMARY KEY NOT NULL,
    \"title\" TEXT NOT NULL,
    \"rating\" TEXT DEFAULT 'G' CHECK (\"rating\" IN ('G', 'PG', 'R')),
    \"price\" REAL NOT NULL DEFAULT 4.99,
    \"doc\" TEXT CHECK (\"doc\" IS NULL OR json_valid(\"doc\")),
    \"email\" TEXT COLLATE NOCASE,
    \"last_update\" TEXT NOT NULL DEFAULT (datetime('now')),
    CONSTRAINT \"film_price_check\" CHECK (\"price\" >= 0)
);";
    assert_eq!(p.tables[0].create_table, expected);
    // The unique constraint is built after the rows are loaded.
    assert_eq!(
        p.tables[0].create_indexes,
        ["CREATE UNIQUE INDEX \"film_title_key\" ON \"film\" (\"title\");"]
    );
    assert!(p.notes.is_empty(), "{:?}", p.notes);
    let conn = sqlite_with(&ddl(&p))?;
    conn.execute("INSERT INTO film (title) VALUES ('x')", [])?;
    let (id, rating, price, at): (i64, String, f64, String) =
        conn.query_row("SELECT film_id, rating, price, last_update FROM film", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    assert_eq!((id, rating.as_str(), price), (1, "G", 4.99));
    assert_timestamptz(&at);
    let bad = conn.execute("INSERT INTO film (title, rating) VALUES ('y', 'X')", []);
    assert!(bad.unwrap_err().to_string().contains("CHECK constraint failed"));
    let bad = conn.execute("INSERT INTO film (title, price) VALUES ('z', -1)", []);
    assert!(bad.unwrap_err().to_string().contains("film_price_check"));
    let bad = conn.execute("INSERT INTO film (title, doc) VALUES ('w', '{bad')", []);
    assert!(bad.is_err(), "invalid JSON must be refused");
    Ok(())
}

/// `2024-01-02 03:04:05`: a timestamptz as SQLite's `datetime('now')` writes it (the
/// default `--datetime sqlite`).
fn assert_timestamptz(at: &str) {
    let b = at.as_bytes();
    let shape_ok = b.len() == 19 && b[10] == b' ' && b[13] == b':' && b[16] == b':';
    assert!(shape_ok, "not SQLite's timestamp form: {at}");
}

#[test]
fn strict_tables_are_declared_strict_and_refuse_wrong_types() -> Result {
    let o = SchemaFlags { strict: true, ..opts() };
    let p = plan(&[film()], &o)?;
    assert!(p.tables[0].create_table.ends_with(") STRICT;"));
    let conn = sqlite_with(&ddl(&p))?;
    let bad = conn.execute("INSERT INTO film (film_id, title) VALUES ('abc', 'x')", []);
    assert!(bad.is_err(), "STRICT refuses text in an INTEGER column");
    Ok(())
}

fn default_of(c: Column) -> (Option<String>, Vec<Note>) {
    let p = plan_of(&[table("public", "t", vec![c])]);
    (p.tables[0].columns[0].default.clone(), p.notes)
}

#[test]
fn literal_defaults_are_kept_in_the_export_form_of_their_column() {
    let cases = [
        (col("a", ty("int4")), "'-1'::integer", "-1"),
        (col("a", ty("int8")), "0", "0"),
        (col("a", ty("bool")), "true", "1"),
        (col("a", ty("bool")), "false", "0"),
        (col("a", ty("float8")), "'1.5'::double precision", "1.5"),
        (col("a", ty("float8")), "0", "0.0"),
        (col("a", ty("float8")), "'Infinity'::double precision", "9e999"),
        (col("a", ty("text")), "'it''s'::text", "'it''s'"),
        (col("a", ty("varchar")), "'x'::character varying", "'x'"),
        (col("a", ty("numeric")), "0", "'0'"),
        (col("a", numeric(10, 2)), "0", "0.0"),
        (col("a", numeric(20, 2)), "0", "'0.00'"),
        (col("a", numeric(20, 2)), "1.5", "'1.50'"),
        (col("a", numeric(10, 0)), "'42'::numeric", "42"),
        (col("a", ty("jsonb")), "'{\"a\": [1, 2]}'::jsonb", "'{\"a\":[1,2]}'"),
        (col("a", ty("bytea")), "'\\x00ff'::bytea", "X'00FF'"),
        (col("a", array(ty("text"))), "'{}'::text[]", "'[]'"),
        (col("a", array(ty("int4"))), "ARRAY[]::integer[]", "'[]'"),
        (
            col("a", ty("timestamptz")),
            "'2024-01-02 03:04:05.5+00'::timestamp with time zone",
            "'2024-01-02 03:04:05.500000'",
        ),
        (
            col("a", ty("timestamp")),
            "'2024-01-02 03:04:05'::timestamp without time zone",
            "'2024-01-02 03:04:05'",
        ),
        (col("a", ty("timestamp")), "'infinity'::timestamp without time zone", "'infinity'"),
        (col("a", ty("date")), "'2024-01-02'::date", "'2024-01-02'"),
        (col("a", ty("time")), "'12:00:00'::time without time zone", "'12:00:00'"),
        (col("a", ty("timetz")), "'12:00:00+02'::time with time zone", "'12:00:00.000000+02:00'"),
        (col("a", ty("interval")), "'P1D'::interval", "'P1D'"),
        (col("a", ty("inet")), "'10.0.0.1'::inet", "'10.0.0.1'"),
        (col("a", PgType { name: "character(3)".into(), ..ty("bpchar") }), "'a'::bpchar", "'a  '"),
        (col("a", enum_ty("public.mood", &["ok"])), "'ok'::public.mood", "'ok'"),
    ];
    for (c, pg, sqlite) in cases {
        let c = with_default(c, pg);
        let (got, notes) = default_of(c);
        assert_eq!(got.as_deref(), Some(sqlite), "default {pg}; notes: {notes:?}");
    }
}

#[test]
fn null_defaults_and_sequences_of_rowid_keys_leave_no_default_and_no_note() {
    let (got, notes) = default_of(with_default(col("a", ty("text")), "NULL::text"));
    assert_eq!((got, notes), (None, vec![]));
    let t = with_pk(
        table(
            "public",
            "t",
            vec![with_default(
                not_null(col("id", ty("int4"))),
                "nextval('public.t_id_seq'::regclass)",
            )],
        ),
        &["id"],
    );
    let p = plan_of(&[t]);
    assert_eq!((p.tables[0].columns[0].default.clone(), p.notes.len()), (None, 0));
    assert!(p.tables[0].create_table.contains("\"id\" INTEGER PRIMARY KEY NOT NULL"));
}

#[test]
fn clock_and_uuid_defaults_produce_values_in_the_export_form() -> Result {
    let t = table(
        "public",
        "t",
        vec![
            col("n", ty("int4")),
            with_default(col("tz", ty("timestamptz")), "CURRENT_TIMESTAMP"),
            with_default(col("ts", ty("timestamp")), "LOCALTIMESTAMP"),
            with_default(col("d", ty("date")), "CURRENT_DATE"),
            with_default(col("d2", ty("date")), "('now'::text)::date"),
            with_default(col("t", ty("time")), "LOCALTIME"),
            with_default(col("ttz", ty("timetz")), "CURRENT_TIME"),
            with_default(col("u", ty("uuid")), "gen_random_uuid()"),
            with_default(col("u2", ty("uuid")), "public.uuid_generate_v4()"),
            with_default(col("c", ty("timestamptz")), "clock_timestamp()"),
        ],
    );
    let p = plan_of(&[t]);
    assert!(p.notes.is_empty(), "{:?}", p.notes);
    let conn = sqlite_with(&ddl(&p))?;
    for _ in 0..50 {
        conn.execute("INSERT INTO t (n) VALUES (1)", [])?;
    }
    let mut stmt = conn.prepare("SELECT tz, ts, d, d2, t, ttz, u, u2, c FROM t")?;
    let rows = stmt.query_map([], |r| {
        (0..9).map(|i| r.get::<_, String>(i)).collect::<rusqlite::Result<Vec<_>>>()
    })?;
    for row in rows {
        let v = row?;
        assert_timestamptz(&v[0]);
        assert_eq!((v[1].len(), &v[1][10..11]), (19, " "), "timestamp {}", v[1]);
        assert_eq!((v[2].len(), &v[2][4..5]), (10, "-"), "date {}", v[2]);
        assert_eq!(v[3], v[2]);
        assert_eq!((v[4].len(), &v[4][5..6]), (8, ":"), "time {}", v[4]);
        assert!(v[5].ends_with("+00:00") && v[5].len() == 21, "timetz {}", v[5]);
        assert_uuid_v4(&v[6]);
        assert_uuid_v4(&v[7]);
        assert_timestamptz(&v[8]);
    }
    Ok(())
}

fn assert_uuid_v4(u: &str) {
    let parsed = uuid::Uuid::parse_str(u).unwrap_or_else(|e| panic!("{u}: {e}"));
    assert_eq!(parsed.get_version_num(), 4, "{u}");
    assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{u}");
    assert_eq!(parsed.hyphenated().to_string(), u, "lowercase canonical");
}

#[test]
fn defaults_that_cannot_be_translated_are_dropped_with_a_note_naming_them() {
    let cases = [
        (col("a", ty("timestamptz")), "(now() + '1 day'::interval)", "operator +"),
        (col("a", ty("text")), "CURRENT_USER", "CURRENT_USER into a text column"),
        (col("a", ty("int4")), "nextval('public.s'::regclass)", "a sequence"),
        (col("a", ty("float8")), "'NaN'::double precision", "NULL"),
        (col("a", numeric(20, 1)), "1.25", "more fraction digits"),
        (col("a", ty("text")), "upper('x'::text)", "function upper()"),
        (col("a", array(ty("int4"))), "'{1,2}'::integer[]", "only '{}'"),
    ];
    for (c, pg, why) in cases {
        let (got, notes) = default_of(with_default(c, pg));
        assert_eq!(got, None, "{pg}");
        let notes: Vec<_> = notes.into_iter().filter(|n| n.what.starts_with("default")).collect();
        assert_eq!(notes.len(), 1, "{pg}: {notes:?}");
        let n = &notes[0];
        assert_eq!((n.table.as_str(), n.object.as_deref()), ("public.t", Some("column a")));
        assert_eq!(n.what, format!("default {pg} dropped"));
        assert!(n.why.contains(why), "{pg}: expected {why:?} in {:?}", n.why);
    }
}

#[test]
fn foreign_keys_keep_actions_and_deferral_and_those_outside_the_plan_are_noted() -> Result {
    let parent = users("users");
    let mut child =
        table("public", "posts", vec![col("user_id", ty("int8")), col("org_id", ty("int8"))]);
    let mut f = fk("posts_user_fk", &["user_id"], ("public", "users"), &["id"]);
    (f.on_delete, f.on_update, f.deferrable, f.initially_deferred) =
        (FkAction::Cascade, FkAction::SetNull, true, true);
    child.foreign_keys.push(f);
    child.foreign_keys.push(fk("posts_org_fk", &["org_id"], ("public", "orgs"), &["id"]));
    let p = plan_of(&[parent, child]);
    let posts = p.table("public", "posts").unwrap();
    assert!(posts.create_table.contains(
        "FOREIGN KEY (\"user_id\") REFERENCES \"users\" (\"id\") ON DELETE CASCADE ON UPDATE SET NULL DEFERRABLE INITIALLY DEFERRED"
    ), "{}", posts.create_table);
    assert!(!posts.create_table.contains("orgs"));
    assert_eq!(p.notes.len(), 1);
    assert_eq!(
        p.notes[0].to_string(),
        "public.posts, foreign key posts_org_fk: FOREIGN KEY (org_id) REFERENCES public.orgs(id) \
         dropped: it references public.orgs, which is not in the export"
    );
    sqlite_with(&ddl(&p))?;
    Ok(())
}

#[test]
fn a_unique_index_targeted_by_a_foreign_key_keeps_the_key_and_is_built_after_loading() -> Result {
    let mut parent = table("public", "codes", vec![not_null(col("code", ty("text")))]);
    parent.indexes.push(Index { unique: true, ..index("codes_code_idx", &["code"]) });
    let mut child = table("public", "uses", vec![col("code", ty("text"))]);
    child.foreign_keys.push(fk("uses_code_fk", &["code"], ("public", "codes"), &["code"]));
    let p = plan_of(&[child, parent]);
    let codes = p.table("public", "codes").unwrap();
    assert!(!codes.create_table.contains("UNIQUE"), "{}", codes.create_table);
    assert_eq!(
        codes.create_indexes,
        ["CREATE UNIQUE INDEX \"codes_code_idx\" ON \"codes\" (\"code\");"]
    );
    let uses = p.table("public", "uses").unwrap();
    assert!(uses.create_table.contains("REFERENCES \"codes\""), "{}", uses.create_table);
    // As import runs it: tables, rows, then indexes; then the key is enforced.
    let tables: Vec<&str> = p.tables.iter().map(|t| t.create_table.as_str()).collect();
    let conn = sqlite_with(&tables.join("\n"))?;
    conn.execute_batch("PRAGMA foreign_keys = OFF")?;
    conn.execute_batch("INSERT INTO codes VALUES ('a'); INSERT INTO uses VALUES ('a');")?;
    conn.execute_batch(&codes.create_indexes.join("\n"))?;
    conn.execute_batch("PRAGMA foreign_keys = ON")?;
    assert!(conn.execute("INSERT INTO uses VALUES ('b')", []).is_err(), "the key is enforced");
    Ok(())
}

#[test]
fn indexes_translate_unique_multi_column_desc_partial_and_expression_forms() -> Result {
    let mut t = with_pk(
        table(
            "shop",
            "orders",
            vec![
                not_null(col("id", ty("int8"))),
                col("customer", ty("int8")),
                col("email", ty("text")),
                col("placed", ty("timestamptz")),
                col("active", ty("bool")),
                col("doc", ty("jsonb")),
                col("note", ty("text")),
            ],
        ),
        &["id"],
    );
    let mut multi = index("orders_customer_placed_idx", &["customer", "placed"]);
    multi.columns[1].descending = true;
    let mut partial = Index { unique: true, ..index("orders_email_active_key", &["email"]) };
    partial.predicate = Some("(active AND (customer IS NOT NULL))".into());
    let mut expr_idx = Index { unique: true, ..index("orders_lower_email_idx", &[]) };
    expr_idx.columns.push(expression_key("lower(email)"));
    let gin = Index { method: "gin".into(), ..index("orders_doc_idx", &["doc"]) };
    let hash = Index { method: "hash".into(), ..index("orders_note_hash", &["note"]) };
    let mut bad_pred = index("orders_recent_idx", &["placed"]);
    bad_pred.predicate =
        Some("(placed > '2024-01-01 00:00:00+00'::timestamp with time zone)".into());
    let mut tsv = index("orders_fts_idx", &[]);
    tsv.columns.push(expression_key("to_tsvector('english'::regconfig, note)"));
    let mut incl = index("orders_customer_incl", &["customer"]);
    incl.include = vec!["email".into()];
    t.indexes.extend([multi, partial, expr_idx, gin, hash, bad_pred, tsv, incl]);
    let p = plan_of(&[t]);
    assert_eq!(
        p.tables[0].create_indexes,
        [
            "CREATE INDEX \"shop_orders_customer_placed_idx\" ON \"shop_orders\" (\"customer\", \"placed\" DESC);",
            "CREATE UNIQUE INDEX \"shop_orders_email_active_key\" ON \"shop_orders\" (\"email\") WHERE \"active\" AND \"customer\" IS NOT NULL;",
            "CREATE UNIQUE INDEX \"shop_orders_lower_email_idx\" ON \"shop_orders\" (lower(\"email\"));",
            "CREATE INDEX \"shop_orders_customer_incl\" ON \"shop_orders\" (\"customer\");",
        ]
    );
    let notes: Vec<(Option<&str>, &str)> =
        p.notes.iter().map(|n| (n.object.as_deref(), n.why.as_str())).collect();
    let why_of = |idx: &str| {
        notes
            .iter()
            .find(|(o, _)| *o == Some(idx))
            .map(|(_, w)| *w)
            .unwrap_or_else(|| panic!("no note for {idx}: {notes:?}"))
    };
    assert!(why_of("index orders_doc_idx").starts_with("a gin index"));
    assert!(why_of("index orders_note_hash").starts_with("a hash index"));
    assert!(why_of("index orders_recent_idx").starts_with("its predicate"));
    assert!(why_of("index orders_fts_idx").contains("to_tsvector"));
    assert!(why_of("index orders_customer_incl").contains("INCLUDE"));
    assert_eq!(notes.len(), 5);
    sqlite_with(&ddl(&p))?;
    Ok(())
}

#[test]
fn checks_translate_when_safe_and_are_noted_otherwise() -> Result {
    let mut t = table(
        "public",
        "t",
        vec![
            col("qty", ty("int4")),
            col("name", ty("text")),
            col("amount", ty("numeric")),
            col("kind", ty("varchar")),
        ],
    );
    t.checks = vec![
        check("qty_positive", "CHECK ((qty > 0))"),
        check("name_nonempty", "CHECK ((char_length(name) > 0))"),
        check(
            "kind_known",
            "CHECK (((kind)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])))",
        ),
        check("amount_positive", "CHECK ((amount > (0)::numeric))"),
        check("qty_later", "CHECK ((qty < 100)) NOT VALID"),
        check("name_sorted", "CHECK ((name > 'a'::text))"),
    ];
    let p = plan_of(&[t]);
    let sql = &p.tables[0].create_table;
    for expected in [
        "CONSTRAINT \"qty_positive\" CHECK (\"qty\" > 0)",
        "CONSTRAINT \"name_nonempty\" CHECK (length(\"name\") > 0)",
        "CONSTRAINT \"kind_known\" CHECK (\"kind\" IN ('a', 'b'))",
    ] {
        assert!(sql.contains(expected), "missing {expected} in {sql}");
    }
    let checks: Vec<_> = p
        .notes
        .iter()
        .filter(|n| n.object.as_ref().is_some_and(|o| o.starts_with("check")))
        .collect();
    let noted: Vec<&str> = checks.iter().filter_map(|n| n.object.as_deref()).collect();
    assert_eq!(noted, ["check amount_positive", "check qty_later", "check name_sorted"]);
    assert!(checks[1].why.contains("NOT VALID"));
    let conn = sqlite_with(&ddl(&p))?;
    assert!(conn.execute("INSERT INTO t (kind) VALUES ('c')", []).is_err());
    conn.execute("INSERT INTO t (kind, qty, name) VALUES ('a', 1, 'x')", [])?;
    Ok(())
}

#[test]
fn load_order_puts_parents_first_and_reports_cycles_and_self_references() {
    let mut emp = users("employees");
    emp.columns.push(col("manager_id", ty("int8")));
    emp.foreign_keys.push(fk("emp_mgr", &["manager_id"], ("public", "employees"), &["id"]));
    let mut a = users("a");
    a.columns.push(col("b_id", ty("int8")));
    a.foreign_keys.push(fk("a_b", &["b_id"], ("public", "b"), &["id"]));
    let mut b = users("b");
    b.columns.push(col("a_id", ty("int8")));
    b.foreign_keys.push(fk("b_a", &["a_id"], ("public", "a"), &["id"]));
    let mut child = users("child");
    child.columns.push(col("z_id", ty("int8")));
    child.foreign_keys.push(fk("child_z", &["z_id"], ("public", "z"), &["id"]));
    let z = users("z");
    let p = plan_of(&[a, b, child, emp, z]);
    let order: Vec<&str> = p.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(order, ["a", "b", "employees", "z", "child"]);
    let load = |n: &str| p.tables.iter().find(|t| t.name == n).unwrap().load.clone();
    assert_eq!(load("a").cycle, ["b"]);
    assert_eq!(load("b").cycle, ["a"]);
    assert!(load("employees").self_referencing && load("employees").cycle.is_empty());
    assert!(!load("child").defer_foreign_keys() && !load("z").defer_foreign_keys());
    assert!(p.has_fk_cycles());
    let script = ddl(&p);
    assert!(script.contains("-- loads with foreign-key checks deferred: in a cycle with b\n"));
    assert!(script.contains("-- loads with foreign-key checks deferred: it references itself\n"));
}

fn tenancy() -> Vec<Table> {
    let tenants = with_pk(
        table(
            "public",
            "accounts",
            vec![not_null(col("id", ty("int8"))), col("theme", ty("text"))],
        ),
        &["id"],
    );
    let mut projects = table(
        "public",
        "projects",
        vec![
            not_null(col("account_id", ty("int8"))),
            not_null(col("id", ty("int8"))),
            col("name", ty("text")),
        ],
    );
    projects = with_pk(projects, &["account_id", "id"]);
    projects.unique.push(key("projects_account_key", &["account_id"]));
    projects.foreign_keys.push(fk(
        "projects_account_fk",
        &["account_id"],
        ("public", "accounts"),
        &["id"],
    ));
    projects.indexes.push(index("projects_account_name_idx", &["account_id", "name"]));
    projects.indexes.push(index("projects_account_idx", &["account_id"]));
    let mut tasks = table(
        "public",
        "tasks",
        vec![
            not_null(col("account_id", ty("int8"))),
            col("project_id", ty("int8")),
            col("title", ty("text")),
        ],
    );
    tasks.foreign_keys.push(fk(
        "tasks_project_fk",
        &["account_id", "project_id"],
        ("public", "projects"),
        &["account_id", "id"],
    ));
    tasks.foreign_keys.push(fk(
        "tasks_account_fk",
        &["account_id"],
        ("public", "accounts"),
        &["id"],
    ));
    tasks.checks.push(check("tasks_account_check", "CHECK ((account_id > 0))"));
    vec![tenants, projects, tasks]
}

#[test]
fn strip_tenancy_drops_the_tenant_column_and_keys_to_the_tenants_table() -> Result {
    let accounts = QualifiedName { schema: "public".into(), name: "accounts".into() };
    let o = ExportFacts { tenant: Some(Strip::new("account_id", Some(accounts))), ..facts() };
    let p = plan(&tenancy(), &o)?;
    let names: Vec<&str> = p.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["app_config", "projects", "tasks"]);
    let projects = p.table("public", "projects").unwrap();
    assert_eq!(projects.file_columns(), ["account_id", "id", "name"]);
    let cols: Vec<&str> = projects.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(cols, ["id", "name"]);
    assert_eq!(
        projects.dropped,
        [DroppedColumn { name: "account_id".into(), position: 0, must_equal: None }]
    );
    assert!(
        projects.create_table.contains("\"id\" INTEGER PRIMARY KEY NOT NULL"),
        "{}",
        projects.create_table
    );
    assert_eq!(
        projects.create_indexes,
        ["CREATE INDEX \"projects_account_name_idx\" ON \"projects\" (\"name\");"]
    );
    let tasks = p.table("public", "tasks").unwrap();
    assert!(
        tasks
            .create_table
            .contains("FOREIGN KEY (\"project_id\") REFERENCES \"projects\" (\"id\")"),
        "{}",
        tasks.create_table
    );
    assert!(!tasks.create_table.contains("account"), "{}", tasks.create_table);
    let noted: Vec<String> = p
        .notes
        .iter()
        .map(|n| format!("{} {}", n.table, n.object.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        noted,
        [
            "public.projects column account_id",
            "public.projects constraint projects_account_key",
            "public.projects foreign key projects_account_fk",
            "public.projects index projects_account_idx",
            "public.tasks column account_id",
            "public.tasks check tasks_account_check",
            "public.tasks foreign key tasks_account_fk",
        ]
    );
    sqlite_with(&ddl(&p))?;
    Ok(())
}

#[test]
fn strip_tenancy_names_the_tenants_table_as_asked_and_checks_it_exists() {
    let accounts = QualifiedName { schema: "public".into(), name: "accounts".into() };
    let mut strip = Strip::new("account_id", Some(accounts));
    strip.table_as = "settings".into();
    let o = ExportFacts { tenant: Some(strip.clone()), ..facts() };
    assert_eq!(plan(&tenancy(), &o).unwrap().tables[0].name, "settings");
    strip.tenants = Some(QualifiedName { schema: "public".into(), name: "nope".into() });
    let o = ExportFacts { tenant: Some(strip.clone()), ..facts() };
    assert_eq!(
        plan(&tenancy(), &o).unwrap_err().to_string(),
        "--strip-tenancy: the tenants table public.nope is not in the export"
    );
    strip.tenants = None;
    strip.tenant_column = "org_id".into();
    let o = ExportFacts { tenant: Some(strip), ..facts() };
    assert_eq!(
        plan(&tenancy(), &o).unwrap_err().to_string(),
        "--strip-tenancy: no table of the export has the tenant column \"org_id\""
    );
}

#[test]
fn a_tenants_table_name_that_collides_is_fixed_with_tenant_table_as() {
    let accounts = QualifiedName { schema: "public".into(), name: "accounts".into() };
    let mut tables = tenancy();
    tables.push(users("app_config"));
    let o = ExportFacts { tenant: Some(Strip::new("account_id", Some(accounts))), ..facts() };
    let message = names_error(&tables, &o);
    assert!(
        message.ends_with("rename one: --rename 'public.app_config=app_config_2'"),
        "{message}"
    );
}

#[test]
fn a_table_without_columns_is_skipped_with_a_note() {
    let p = plan_of(&[table("public", "empty", vec![]), users("users")]);
    assert_eq!(p.tables.len(), 1);
    assert_eq!(p.skipped[0].source.name, "empty");
    assert_eq!(
        p.notes[0].to_string(),
        "public.empty: table skipped: it has no columns (SQLite tables need at least one)"
    );
    assert!(ddl(&p).contains("-- skipped public.empty: it has no columns"));
}

#[test]
fn ddl_has_a_header_notes_as_comments_and_is_deterministic() -> Result {
    let mut t = film();
    t.columns.push(with_default(col("x", ty("text")), "md5('a\nb'::text)"));
    let o = ExportFacts {
        header: Header {
            source: Some("postgresql://u@h:5432/db".into()),
            export_id: Some("20240101T000000Z".into()),
        },
        ..facts()
    };
    let script = ddl(&plan(std::slice::from_ref(&t), &o)?);
    assert_eq!(script, ddl(&plan(&[t], &o)?));
    assert!(script.starts_with("-- SQLite schema written by pg2lite"));
    assert!(script.contains("-- source: postgresql://u@h:5432/db\n-- export: 20240101T000000Z\n"));
    assert!(
        script.contains("-- note: public.film, column x: default md5('a b'::text) dropped: "),
        "{script}"
    );
    sqlite_with(&script)?;
    Ok(())
}

#[test]
fn meta_tables_are_created_and_filled_from_the_plan() -> Result {
    let p = plan_of(&[film()]);
    let conn = sqlite_with(&(ddl(&p) + &meta_ddl(true)))?;
    insert_export(&conn, &crate::sqlite::meta::tests::sample_meta())?;
    let mut lossy = crate::mapping::Lossy::new(p.tables[0].columns.len());
    lossy.add(3, crate::mapping::Loss::NanToNull);
    insert_columns(&conn, &p.tables[0], &lossy)?;
    let row: (String, String, String, i64, Option<String>) = conn.query_row(
        "SELECT pg_type, sqlite_type, mapping, lossy_values, lossy_detail FROM _pg2lite_columns WHERE column_name = 'price'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    assert_eq!(
        row,
        (
            "numeric(5,2)".into(),
            "REAL".into(),
            "numeric as real".into(),
            1,
            Some("1 NaN stored as NULL".into())
        )
    );
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM _pg2lite_columns WHERE lossy_detail IS NULL",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(n, 6);
    let id: String = conn.query_row("SELECT export_id FROM _pg2lite_export", [], |r| r.get(0))?;
    assert_eq!(id, "e1");
    Ok(())
}

fn tenant_manifest() -> crate::model::manifest::Manifest {
    let entry = |t: &Table, filter: serde_json::Value| {
        let mut v = serde_json::to_value(t).expect("a table serializes");
        let extra = serde_json::json!({
            "file": crate::model::manifest::table_file(&t.schema, &t.name),
            "rows": 1, "bytes": 10, "sha256": "00", "filter": filter,
        });
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    let tables = tenancy();
    let m = serde_json::json!({
        "format": "pg2lite-export", "version": 1, "export_id": "20240102T030405Z",
        "tool": {"name": "pg2lite", "version": "0.1.0"}, "created_at": "2024-01-02T03:04:05Z",
        "source": {"host": "db", "port": 5432, "database": "app", "user": "me", "server_version": "15.4"},
        "snapshot": null, "settings": {},
        "options": {"tenant": {"column": "account_id", "value": "7", "key_column": "id",
                               "tenants_table": {"schema": "public", "name": "accounts"}}},
        "tables": [
            entry(&tables[0], serde_json::json!({"kind": "tenant_row", "columns": ["id"]})),
            entry(&tables[1], serde_json::json!({"kind": "tenant_column", "column": "account_id"})),
            entry(&tables[2], serde_json::json!({"kind": "tenant_column", "column": "account_id"})),
        ],
        "manifest_sha256": "ff",
    });
    serde_json::from_value(m).expect("a manifest")
}

#[test]
fn a_tenant_scoped_manifest_implies_its_strip_header_and_export_row() -> Result {
    let m = tenant_manifest();
    let strip = Strip::from_manifest(&m).expect("a tenant-scoped export strips");
    let accounts = QualifiedName { schema: "public".into(), name: "accounts".into() };
    assert_eq!(strip, Strip::new("account_id", Some(accounts)));
    let header = Header::from_manifest(&m);
    assert_eq!(header.source.as_deref(), Some("postgresql://me@db:5432/app"));
    assert_eq!(header.export_id.as_deref(), Some("20240102T030405Z"));
    let meta = ExportMeta::from_manifest(&m);
    assert_eq!((meta.manifest_sha256.as_str(), meta.exported_by.as_str()), ("ff", "pg2lite 0.1.0"));
    let tables: Vec<Table> = m.tables.iter().map(|t| t.table.clone()).collect();
    let p = plan(&tables, &ExportFacts { tenant: Some(strip), header, ..facts() })?;
    assert_eq!(p.tables[0].name, DEFAULT_TENANT_TABLE);
    assert!(ddl(&p).contains("-- export: 20240102T030405Z\n"));
    let mut whole = m.clone();
    whole.options.tenant = None;
    assert_eq!(Strip::from_manifest(&whole), None);
    Ok(())
}

fn char_n(n: u64) -> PgType {
    PgType {
        name: format!("character({n})"),
        domain: None,
        kind: TypeKind::Base { base: "bpchar".into(), precision: None, scale: None },
    }
}

/// Issue 12: `char(70000) DEFAULT 'x'` panicked ("Formatting argument out of range").
#[test]
fn char_defaults_are_padded_at_any_length_postgres_allows_and_refused_beyond() -> Result {
    let (got, notes) = default_of(with_default(col("c", char_n(70_000)), "'x'::bpchar"));
    let got = got.expect("the default is kept");
    assert!(notes.is_empty(), "{notes:?}");
    let conn = sqlite_with(&format!("CREATE TABLE t (c TEXT DEFAULT {got}, k INTEGER)"))?;
    conn.execute("INSERT INTO t (k) VALUES (1)", [])?;
    let stored: String = conn.query_row("SELECT c FROM t", [], |r| r.get(0))?;
    assert_eq!((stored.len(), &stored[..2]), (70_000, "x "));
    for n in [2_147_483_647, 99_999_999_999] {
        let (got, notes) = default_of(with_default(col("c", char_n(n)), "'x'::bpchar"));
        assert_eq!(got, None);
        assert!(notes[0].why.contains("not a length Postgres allows"), "{notes:?}");
    }
    Ok(())
}

#[test]
fn a_numeric_scale_beyond_postgres_is_refused_not_padded() {
    let mut ty = numeric(10, 2);
    ty.kind = TypeKind::Base { base: "numeric".into(), precision: Some(10), scale: Some(i32::MAX) };
    let o = SchemaFlags { numeric: NumericPolicy::Text, ..opts() };
    let p = plan(&[table("public", "t", vec![with_default(col("a", ty), "0")])], &o).unwrap();
    assert_eq!(p.tables[0].columns[0].default, None);
    assert!(p.notes[0].why.contains("beyond Postgres' largest"), "{:?}", p.notes);
}

fn json_table() -> Table {
    table("public", "docs", vec![col("body", ty("jsonb")), not_null(col("meta", ty("json")))])
}

/// SQLite's JSON limit, measured on the SQLite pg2lite writes with: 1000 levels pass
/// `json_valid`, 1001 do not.
#[test]
fn sqlite_json_valid_stops_at_the_recorded_depth() -> Result {
    let conn = Connection::open_in_memory()?;
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let limit = usize::try_from(crate::model::manifest::SQLITE_JSON_DEPTH)?;
    let valid = |n: usize| -> rusqlite::Result<i64> {
        conn.query_row("SELECT json_valid(?1)", [nested(n)], |r| r.get(0))
    };
    assert_eq!((valid(limit)?, valid(limit + 1)?), (1, 0));
    Ok(())
}

/// Issue 12: a jsonb value 1,200 deep failed the `json_valid` CHECK. The column keeps its
/// values and loses the CHECK, with a note naming it and the count.
#[test]
fn json_columns_nested_beyond_sqlite_lose_their_check_with_a_note() -> Result {
    let q = QualifiedName { schema: "public".into(), name: "docs".into() };
    let deep = crate::model::manifest::JsonDepth { deepest: 1200, beyond_sqlite: 3 };
    let mut o = facts();
    o.deep_json.insert((q, "body".into()), deep);
    let p = plan(&[json_table()], &o)?;
    let ddl = &p.tables[0].create_table;
    assert!(!ddl.contains("json_valid(\"body\")"), "{ddl}");
    assert!(ddl.contains("CHECK (json_valid(\"meta\"))"), "{ddl}");
    let [n] = &p.notes[..] else { panic!("one note: {:?}", p.notes) };
    assert_eq!(n.object.as_deref(), Some("column body"));
    assert!(n.why.contains("3 value(s) nest deeper than 1000 levels (the deepest 1200)"), "{n}");
    let conn = sqlite_with(ddl)?;
    let value = format!("{}{}", "[".repeat(1200), "]".repeat(1200));
    conn.execute("INSERT INTO docs VALUES (?1, '{}')", [value])?;
    Ok(())
}

/// What a fed import does once the rows are in: the stored CREATE TABLE becomes the final
/// plan's, rows untouched, and SQLite's integrity check passes on the rewritten schema.
#[test]
fn refit_rewrites_the_stored_table_to_the_final_plan() -> Result {
    let draft = plan(&[json_table()], &opts())?;
    let mut o = facts();
    let q = QualifiedName { schema: "public".into(), name: "docs".into() };
    o.deep_json.insert(
        (q, "body".into()),
        crate::model::manifest::JsonDepth { deepest: 1001, beyond_sqlite: 1 },
    );
    let done = plan(&[json_table()], &o)?;
    let conn = Connection::open_in_memory()?;
    conn.execute_batch("PRAGMA ignore_check_constraints = ON;")?;
    conn.execute_batch(&draft.tables[0].create_table)?;
    let value = format!("{}{}", "[".repeat(1001), "]".repeat(1001));
    conn.execute("INSERT INTO docs VALUES (?1, '{}')", [&value])?;
    conn.execute_batch("PRAGMA ignore_check_constraints = OFF;")?;
    let check = |c: &Connection| -> rusqlite::Result<String> {
        c.query_row("PRAGMA quick_check", [], |r| r.get(0))
    };
    assert_ne!(check(&conn)?, "ok", "the draft's CHECK refuses the value");
    assert_eq!(refit(&conn, &draft, &done)?, 1);
    assert_eq!(check(&conn)?, "ok");
    let stored: String =
        conn.query_row("SELECT sql FROM sqlite_schema WHERE name = 'docs'", [], |r| r.get(0))?;
    assert_eq!(format!("{stored};"), done.tables[0].create_table);
    assert_eq!(refit(&conn, &done, &done)?, 0);
    let other = plan(&[table("public", "docs", vec![col("x", ty("int4"))])], &opts())?;
    assert!(matches!(refit(&conn, &draft, &other), Err(RefitError::Changed { .. })));
    Ok(())
}

/// Issue 12 (item 11): a foreign key whose lists differ was truncated; an index on a missing
/// column became an index on a string constant. Both are refused by name.
#[test]
fn a_catalog_naming_missing_columns_is_refused_before_planning() {
    let parent = users("users");
    let mut child =
        table("public", "posts", vec![col("id", ty("int8")), col("user_id", ty("int8"))]);
    child.foreign_keys.push(fk("posts_user", &["user_id", "id"], ("public", "users"), &["id"]));
    let e = plan(&[parent.clone(), child], &opts()).unwrap_err();
    assert!(matches!(e, Error::Inconsistent { .. }), "{e}");
    assert!(e.to_string().starts_with("public.posts, foreign key posts_user: it pairs 2"), "{e}");
    let mut child = table("public", "posts", vec![col("id", ty("int8"))]);
    child.indexes.push(index("posts_ghost", &["ghost"]));
    let e = plan(&[parent, child], &opts()).unwrap_err().to_string();
    assert!(e.contains("public.posts, index posts_ghost: it names column ghost"), "{e}");
}
