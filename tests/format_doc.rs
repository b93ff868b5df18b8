//! docs/FORMAT.md is the format's specification for people writing their own reader: every
//! key that appears in a real manifest, and every filter and type kind, must be described
//! there. Two real exports are walked: a whole database with the shapes that bring out the
//! optional fields (NaN, JSON null, deep JSON, a partial index with INCLUDE, inheritance,
//! a domain, an enum, a composite, arrays, an identity and a generated column), and one
//! tenant's export of the shared multi-tenant fixture (path, lookup, left-out, whole-table).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::hostile::Forged;
use crate::support::pg::TestDb;
use crate::tenancy::shared_db;

const SHAPES: &str = "
    create domain positive as int check (value > 0);
    create type mood as enum ('sad', 'ok');
    create type pair as (a int, b text);
    create table parent (id int primary key generated always as identity, n positive,
        half int generated always as (n / 2) stored, m mood, p pair, tags text[],
        f float8, doc jsonb, deep jsonb, code text unique);
    create index parent_partial on parent (code) include (n) where n > 1;
    create table child (id int primary key, parent_id int references parent on delete cascade,
        note text check (note <> ''));
    create table grandchild (extra int) inherits (child);
    insert into parent (n, m, p, tags, f, doc, deep, code)
        values (2, 'ok', row(1, 'x'), '{a,b}', 'NaN', 'null',
            (repeat('[', 1001) || repeat(']', 1001))::jsonb, 'c1');
    insert into child values (1, 1, 'a');
";

/// Every key of every object in `v`, and every value of a `kind` key.
fn walk(v: &Value, keys: &mut BTreeSet<String>, kinds: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                // Per-column maps (json_nulls, nan_values, json_depth, numeric_facts, settings) are keyed by
                // data, not by the format.
                let data_keyed = matches!(
                    k.as_str(),
                    "json_nulls" | "nan_values" | "json_depth" | "numeric_facts"
                );
                if k == "settings" || data_keyed {
                    keys.insert(k.clone());
                    if data_keyed {
                        for inner in child.as_object().into_iter().flat_map(|m| m.values()) {
                            walk(inner, keys, kinds);
                        }
                    }
                    continue;
                }
                keys.insert(k.clone());
                if k == "kind" {
                    kinds.extend(child.as_str().map(str::to_owned));
                }
                walk(child, keys, kinds);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, keys, kinds)),
        _ => {}
    }
}

fn manifest(dir: &Path) -> Value {
    let text = fs::read_to_string(dir.join("manifest.json")).expect("the manifest");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn every_manifest_key_and_kind_is_described_in_format_md() {
    let shapes = TestDb::new();
    shapes.execute(SHAPES);
    let whole = Forged::export(&shapes, &[]);
    let shared = shared_db();
    let tenant = Forged::export(
        &shared,
        &["--tenant-column", "user_id", "--tenant-key", "email=user3@example.com"],
    );
    let (mut keys, mut kinds) = (BTreeSet::new(), BTreeSet::new());
    walk(&manifest(&whole.export), &mut keys, &mut kinds);
    walk(&manifest(&tenant.export), &mut keys, &mut kinds);
    for expected in ["json_nulls", "nan_values", "json_depth", "inherits", "include", "lookup"] {
        let seen = keys.contains(expected) || kinds.contains(expected);
        assert!(seen, "the fixtures no longer bring out {expected}: {keys:?} {kinds:?}");
    }
    let doc = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/FORMAT.md"))
        .expect("docs/FORMAT.md is in the repository");
    let missing: Vec<&String> =
        keys.iter().chain(&kinds).filter(|k| !doc.contains(&format!("`{k}`"))).collect();
    assert!(missing.is_empty(), "docs/FORMAT.md does not describe {missing:?}");
}
