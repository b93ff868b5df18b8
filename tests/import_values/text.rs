//! Text: text, varchar, char, name, citext, uuid.

use super::Case;
use super::Lost::No;
use super::Want::Text;

/// The edge cases of the character types and uuid.
pub(super) const CASES: &[Case] = &[
    (
        "text",
        r#"E'q" b\\ n\n r\r t\t it''s e😀 m𝄞 c\x01'"#,
        "TEXT",
        Text("q\" b\\ n\n r\r t\t it's e😀 m𝄞 c\u{1}"),
        No,
    ),
    ("text", "''", "TEXT", Text(""), No),
    ("text", "'null'", "TEXT", Text("null"), No),
    ("text", "'007'", "TEXT", Text("007"), No),
    ("varchar(5)", "'12.50'", "TEXT", Text("12.50"), No),
    ("char(4)", "'ab'", "TEXT", Text("ab  "), No),
    ("name", "'nm'", "TEXT", Text("nm"), No),
    ("\"char\"", "'z'", "TEXT", Text("z"), No),
    ("citext", "'MiXeD'", "TEXT", Text("MiXeD"), No),
    (
        "uuid",
        "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'",
        "TEXT",
        Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        No,
    ),
];
