//! Which tables a run takes: `--schema`, `--table` and `--exclude`, read as psql and pg_dump
//! read their patterns, and checked so that a pattern matching nothing is an error.

use super::catalog::Table;

/// A `--table`/`--exclude` pattern, read as psql and pg_dump read them: `name` or
/// `schema.name`; outside double quotes letters fold to lower case and `*`/`?` are wildcards;
/// inside them everything is literal (`""` is a quote).
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    schema: Option<Vec<Glob>>,
    name: Vec<Glob>,
}

#[derive(Debug, Clone, PartialEq)]
enum Glob {
    Char(char),
    Any,
    One,
}

impl Pattern {
    /// Reads `text` as described on [`Pattern`]; with two dots (`db.schema.name`) the first
    /// part is ignored, as psql does. Never fails: every text is some pattern.
    pub fn parse(text: &str) -> Pattern {
        let mut parts: Vec<Vec<Glob>> = vec![Vec::new()];
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let part = parts.last_mut().expect("never empty");
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    chars.next();
                    part.push(Glob::Char('"'));
                }
                '"' => quoted = !quoted,
                _ if quoted => part.push(Glob::Char(c)),
                '.' => parts.push(Vec::new()),
                '*' => part.push(Glob::Any),
                '?' => part.push(Glob::One),
                _ => part.extend(c.to_lowercase().map(Glob::Char)),
            }
        }
        let name = parts.pop().expect("never empty");
        // With more than one dot, psql reads `db.schema.name`; the schema is what matters here.
        let schema = parts.pop();
        Pattern { text: text.to_owned(), schema, name }
    }

    /// Whether the table's name, and its schema when the pattern names one, match.
    pub fn matches(&self, t: &Table) -> bool {
        glob_match(&self.name, &t.name)
            && self.schema.as_ref().is_none_or(|s| glob_match(s, &t.schema))
    }

    /// The pattern as the user wrote it, for messages.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Whether `text` matches `pattern`, by the greedy two-pointer method with one backtrack
/// point (the last `*`): O(pattern × text) at worst, where trying every split at every `*`
/// recursively was exponential in the number of stars.
fn glob_match(pattern: &[Glob], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Glob::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Glob::One) => (p, t) = (p + 1, t + 1),
            Some(Glob::Char(c)) if *c == text[t] => (p, t) = (p + 1, t + 1),
            _ => match star {
                Some((sp, st)) => {
                    star = Some((sp, st + 1));
                    (p, t) = (sp + 1, st + 1);
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|g| *g == Glob::Any)
}

/// A selection that cannot be what the user meant.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// An include pattern (the `--table` text) matched no table.
    #[error("no table matches --table {0:?}; list tables with: psql -c '\\dt *.*'")]
    TableNotFound(String),
    /// An exclude pattern (the `--exclude` text) matched no table: a typo would otherwise export
    /// what it meant to leave out.
    #[error("no table matches --exclude {0:?}; list tables with: psql -c '\\dt *.*'")]
    ExcludeNotFound(String),
    /// A `--schema` (the name as given) has no table.
    #[error("schema {0:?} holds no tables (or does not exist); list schemas with: psql -c '\\dn'")]
    SchemaNotFound(String),
    /// The selection leaves no table.
    #[error("nothing to export: the database has no tables left after --schema/--table/--exclude")]
    Empty,
}

/// Keeps the tables in `schemas` (all when empty) that match an `include` pattern (all when
/// empty) and no `exclude` pattern. Like `pg_dump --strict-names`, every schema and include
/// pattern must match something; so must every exclude pattern (pg_dump lets those pass, but
/// a misspelt exclusion silently exports what the user meant to keep out).
///
/// # Errors
/// [`SelectError`] naming the schema or pattern that matched nothing.
pub fn select(
    tables: Vec<Table>,
    schemas: &[String],
    include: &[String],
    exclude: &[String],
) -> Result<Vec<Table>, SelectError> {
    if let Some(s) = schemas.iter().find(|s| !tables.iter().any(|t| &t.schema == *s)) {
        return Err(SelectError::SchemaNotFound(s.clone()));
    }
    let in_schema: Vec<Table> =
        tables.into_iter().filter(|t| schemas.is_empty() || schemas.contains(&t.schema)).collect();
    let include: Vec<Pattern> = include.iter().map(|p| Pattern::parse(p)).collect();
    let exclude: Vec<Pattern> = exclude.iter().map(|p| Pattern::parse(p)).collect();
    if let Some(p) = include.iter().find(|p| !in_schema.iter().any(|t| p.matches(t))) {
        return Err(SelectError::TableNotFound(p.text().to_owned()));
    }
    // A misspelt --exclude would otherwise export the very table it meant to leave out.
    if let Some(p) = exclude.iter().find(|p| !in_schema.iter().any(|t| p.matches(t))) {
        return Err(SelectError::ExcludeNotFound(p.text().to_owned()));
    }
    let chosen: Vec<Table> = in_schema
        .into_iter()
        .filter(|t| include.is_empty() || include.iter().any(|p| p.matches(t)))
        .filter(|t| !exclude.iter().any(|p| p.matches(t)))
        .collect();
    if chosen.is_empty() {
        return Err(SelectError::Empty);
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(schema: &str, name: &str) -> Table {
        Table::new(schema, name, vec![])
    }

    #[test]
    fn patterns_fold_case_outside_quotes_and_support_wildcards() {
        assert!(Pattern::parse("Actor").matches(&table("public", "actor")));
        assert!(!Pattern::parse("\"Actor\"").matches(&table("public", "actor")));
        assert!(Pattern::parse("\"Actor\"").matches(&table("public", "Actor")));
        assert!(Pattern::parse("film*").matches(&table("public", "film_actor")));
        assert!(Pattern::parse("public.f?lm").matches(&table("public", "film")));
        assert!(!Pattern::parse("other.film").matches(&table("public", "film")));
        assert!(Pattern::parse("\"my.schema\".\"a\"\"b\"").matches(&table("my.schema", "a\"b")));
    }

    #[test]
    fn selection_requires_every_pattern_and_schema_to_match_something() {
        let all = vec![table("public", "a"), table("public", "b"), table("s", "c")];
        let picked = select(all.clone(), &[], &["a".into(), "s.*".into()], &[]).unwrap();
        assert_eq!(picked.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["a", "c"]);
        let err = select(all.clone(), &[], &["zzz".into()], &[]).unwrap_err();
        assert!(err.to_string().contains("zzz"), "{err}");
        let err = select(all.clone(), &["nope".into()], &[], &[]).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let picked = select(all.clone(), &["public".into()], &[], &["b".into()]).unwrap();
        assert_eq!(picked.len(), 1);
        let err = select(all, &[], &[], &["actr".into()]).unwrap_err();
        assert!(err.to_string().contains("--exclude \"actr\""), "{err}");
    }

    #[test]
    fn wildcards_match_as_globs_do_and_many_stars_stay_fast() {
        let t = |name: &str| table("public", name);
        for (pattern, name, want) in [
            ("*", "", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbYcZ", false),
            ("*ab", "aab", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("**x", "yx", true),
            ("x*", "x", true),
        ] {
            assert_eq!(Pattern::parse(pattern).matches(&t(name)), want, "{pattern} vs {name:?}");
        }
        // Thirty stars against sixty characters that almost match: the recursive matcher tried
        // every split at every star (effectively never finishing); this returns at once.
        let pattern = format!("{}b", "a*".repeat(30));
        assert!(!Pattern::parse(&pattern).matches(&t(&"a".repeat(60))));
    }
}
