//! Quoting for the two SQL dialects pg2lite writes, Postgres' and SQLite's. Identifiers are
//! quoted alike in both (double quotes, an inner `"` doubled), so there is one
//! [`quote_ident`]; string literals differ (Postgres has backslash escapes under `E''`,
//! SQLite has none), so each dialect has its own. Every identifier pg2lite puts into SQL goes
//! through here; every value is bound instead.

/// Quotes an identifier for Postgres or SQLite: `a"b` → `"a""b"`.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A schema-qualified, quoted Postgres table name: `"public"."film"`.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// A Postgres string literal. Standard-conforming strings are on by default since Postgres
/// 9.1; the `E''` form keeps backslashes literal whatever that setting is.
pub fn pg_literal(value: &str) -> String {
    if value.contains('\\') {
        format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

/// An SQLite string literal, doubling `'` (SQLite has no backslash escapes).
pub fn sqlite_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_the_quote_character_and_nothing_else() {
        assert_eq!(quote_ident(r#"a"b\c"#), r#""a""b\c""#);
        assert_eq!(quote_qualified("s.x", "t"), r#""s.x"."t""#);
        assert_eq!(pg_literal(r"it's \n"), r"E'it''s \\n'");
        assert_eq!(pg_literal("it's"), "'it''s'");
        assert_eq!(sqlite_literal(r"it's \n"), r"'it''s \n'");
    }
}
