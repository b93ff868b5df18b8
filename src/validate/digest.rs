//! The canonical form of a row of SQLite values, shared by both sides of the comparison: the
//! export's converted values and the values read back from SQLite are encoded the same way,
//! so equal bytes mean equal values, type included.
//!
//! Each value is a type tag and its bytes:
//!
//! | value | bytes |
//! |---|---|
//! | NULL | `00` |
//! | INTEGER | `01`, then 8 bytes big-endian of the value with its sign bit flipped |
//! | REAL | `02`, then the 8 bytes of its IEEE bits, big-endian, sign-flipped for order |
//! | TEXT | `03`, the UTF-8 bytes with `00` written `00 FF`, then `00 00` |
//! | BLOB | `04`, the bytes escaped the same way, then `00 00` |
//!
//! The encoding is injective (it can be decoded, [`decode`]) and preserves order within a
//! type (integers and reals numerically, text and blobs bytewise), so an encoded key sorts
//! as the key does and the first keys shown are the smallest. A row's digest is the SHA-256
//! of its values' encodings in column order; a table's digest is the sum of its rows'
//! digests modulo 2^256, which does not depend on row order and counts duplicates.

use std::hash::{DefaultHasher, Hasher};

use rusqlite::types::{Value, ValueRef};
use sha2::{Digest as _, Sha256};

use crate::transform::SqlValue;

const NULL: u8 = 0;
const INTEGER: u8 = 1;
const REAL: u8 = 2;
const TEXT: u8 = 3;
const BLOB: u8 = 4;
const SIGN: u64 = 1 << 63;

/// The borrowed SQLite value of a converted export value.
pub(super) fn value_ref<'a>(v: &'a SqlValue<'_>) -> ValueRef<'a> {
    match v {
        SqlValue::Null => ValueRef::Null,
        SqlValue::Integer(i) => ValueRef::Integer(*i),
        SqlValue::Real(f) => ValueRef::Real(*f),
        SqlValue::Text(t) => ValueRef::Text(t.as_bytes()),
        SqlValue::Blob(b) => ValueRef::Blob(b),
    }
}

/// Appends the canonical encoding of `v` to `out`.
pub(super) fn encode(v: ValueRef<'_>, out: &mut Vec<u8>) {
    match v {
        ValueRef::Null => out.push(NULL),
        ValueRef::Integer(i) => {
            out.push(INTEGER);
            out.extend_from_slice(&((i as u64) ^ SIGN).to_be_bytes());
        }
        ValueRef::Real(f) => {
            out.push(REAL);
            let bits = f.to_bits();
            let ordered = if bits & SIGN != 0 { !bits } else { bits ^ SIGN };
            out.extend_from_slice(&ordered.to_be_bytes());
        }
        ValueRef::Text(t) => escaped(TEXT, t, out),
        ValueRef::Blob(b) => escaped(BLOB, b, out),
    }
}

/// Text rarely holds a zero byte, and looking for one (`contains`, which is `memchr`) is far
/// quicker than copying byte by byte: most values are copied whole.
fn escaped(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    if !bytes.contains(&0) {
        out.extend_from_slice(bytes);
        out.extend_from_slice(&[0, 0]);
        return;
    }
    let mut runs = bytes.split(|&b| b == 0);
    if let Some(first) = runs.next() {
        out.extend_from_slice(first);
    }
    for run in runs {
        out.extend_from_slice(&[0, 0xFF]);
        out.extend_from_slice(run);
    }
    out.extend_from_slice(&[0, 0]);
}

/// Decodes a sequence of encoded values; `None` for bytes [`encode`] cannot have written.
pub(super) fn decode(mut bytes: &[u8]) -> Option<Vec<Value>> {
    let mut values = Vec::new();
    while let Some((&tag, rest)) = bytes.split_first() {
        let (value, rest) = match tag {
            NULL => (Value::Null, rest),
            INTEGER => {
                let (b, rest) = rest.split_first_chunk::<8>()?;
                (Value::Integer((u64::from_be_bytes(*b) ^ SIGN) as i64), rest)
            }
            REAL => {
                let (b, rest) = rest.split_first_chunk::<8>()?;
                let ordered = u64::from_be_bytes(*b);
                let bits = if ordered & SIGN != 0 { ordered ^ SIGN } else { !ordered };
                (Value::Real(f64::from_bits(bits)), rest)
            }
            TEXT => {
                let (raw, rest) = unescape(rest)?;
                (Value::Text(String::from_utf8(raw).ok()?), rest)
            }
            BLOB => {
                let (raw, rest) = unescape(rest)?;
                (Value::Blob(raw), rest)
            }
            _ => return None,
        };
        values.push(value);
        bytes = rest;
    }
    Some(values)
}

fn unescape(bytes: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        match (bytes.get(i)?, bytes.get(i + 1)) {
            (0, Some(0)) => return Some((out, &bytes[i + 2..])),
            (0, Some(0xFF)) => {
                out.push(0);
                i += 2;
            }
            (0, _) => return None,
            (&b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// One row's digest: SHA-256 over its values' encodings.
pub(super) type RowDigest = [u8; 32];

/// Encodes `values` into `buf` (cleared first) and returns the row's digest.
#[cfg(test)]
fn row_digest<'v>(values: impl IntoIterator<Item = ValueRef<'v>>, buf: &mut Vec<u8>) -> RowDigest {
    buf.clear();
    for v in values {
        encode(v, buf);
    }
    hash(buf)
}

/// The digest of a row already encoded into `encoded`.
pub(super) fn hash(encoded: &[u8]) -> RowDigest {
    Sha256::digest(encoded).into()
}

/// The order-independent digest of a table: the sum of its row digests modulo 2^256.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct TableDigest {
    /// Big-endian 64-bit limbs.
    limbs: [u64; 4],
}

impl TableDigest {
    pub(super) fn add(&mut self, row: &RowDigest) {
        let mut carry = false;
        for i in (0..4).rev() {
            let chunk: [u8; 8] = row[i * 8..i * 8 + 8].try_into().expect("8 bytes");
            let (sum, c1) = self.limbs[i].overflowing_add(u64::from_be_bytes(chunk));
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            self.limbs[i] = sum;
            carry = c1 || c2;
        }
    }

    /// The digest of both tables' rows together: `self` plus `other`.
    pub(super) fn merge(mut self, other: TableDigest) -> TableDigest {
        let mut bytes = [0u8; 32];
        for (chunk, limb) in bytes.chunks_exact_mut(8).zip(other.limbs) {
            chunk.copy_from_slice(&limb.to_be_bytes());
        }
        self.add(&bytes);
        self
    }

    pub(super) fn hex(&self) -> String {
        self.limbs.iter().map(|l| format!("{l:016x}")).collect()
    }
}

/// How many buckets [`Digests`] spreads a table's rows over.
pub(super) const BUCKETS: usize = 256;

/// The bucket of a row: from its key's encoding (a row without a key: its digest), so a row
/// falls in the same bucket on both sides, and so does every row under the same key.
pub(super) fn bucket(key: &[u8]) -> usize {
    let mut h = DefaultHasher::new();
    h.write(key);
    (h.finish() % BUCKETS as u64) as usize
}

/// A table's row digests summed per [`bucket`]: when two tables' digests differ, the rows
/// that make the difference are in the buckets whose sums differ, and only those need
/// comparing row by row. Its size is fixed, whatever the table's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Digests {
    buckets: Vec<TableDigest>,
}

impl Default for Digests {
    fn default() -> Self {
        Digests { buckets: vec![TableDigest::default(); BUCKETS] }
    }
}

impl Digests {
    pub(super) fn add(&mut self, bucket: usize, row: &RowDigest) {
        self.buckets[bucket % BUCKETS].add(row);
    }

    /// The digests of both tables' rows together.
    pub(super) fn merge(mut self, other: &Digests) -> Digests {
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine = mine.merge(*theirs);
        }
        self
    }

    /// The table's digest: the sum of all its rows' digests.
    pub(super) fn total(&self) -> TableDigest {
        self.buckets.iter().fold(TableDigest::default(), |sum, b| sum.merge(*b))
    }

    /// The buckets whose sums differ between `self` and `other`.
    pub(super) fn differing(&self, other: &Digests) -> BucketSet {
        BucketSet(self.buckets.iter().zip(&other.buckets).map(|(a, b)| a != b).collect())
    }
}

/// Some of the [`BUCKETS`] buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BucketSet(Vec<bool>);

impl BucketSet {
    pub(super) fn contains(&self, bucket: usize) -> bool {
        self.0.get(bucket).copied().unwrap_or(false)
    }
}

/// How a value is shown in a key or a row: `42`, `1.5`, `'text'`, `x'00ff'`, `NULL`; long
/// text and blobs are cut at 60 characters.
pub(super) fn show(v: &Value) -> String {
    const MAX: usize = 60;
    match v {
        Value::Null => "NULL".to_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => format!("{f:?}"),
        Value::Text(t) => {
            let cut: String = t.chars().take(MAX).collect();
            let more = if cut.len() < t.len() { "…" } else { "" };
            format!("'{}'{more}", cut.replace('\'', "''"))
        }
        Value::Blob(b) => {
            let more = if b.len() > MAX / 2 { "…" } else { "" };
            format!("x'{}'{more}", hex::encode(&b[..b.len().min(MAX / 2)]))
        }
    }
}

/// `(actor_id=1, film_id=23)`.
pub(super) fn show_named(names: &[String], values: &[Value]) -> String {
    let parts: Vec<String> =
        names.iter().zip(values).map(|(n, v)| format!("{n}={}", show(v))).collect();
    format!("({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: ValueRef<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(v, &mut out);
        out
    }

    #[test]
    fn every_kind_of_value_decodes_to_itself() {
        let values = [
            Value::Null,
            Value::Integer(i64::MIN),
            Value::Integer(-1),
            Value::Integer(0),
            Value::Integer(i64::MAX),
            Value::Real(-1.5),
            Value::Real(0.0),
            Value::Real(f64::INFINITY),
            Value::Real(f64::NEG_INFINITY),
            Value::Text("a\0b'c é".into()),
            Value::Text(String::new()),
            Value::Blob(vec![0, 0xFF, 0, 0]),
        ];
        let mut bytes = Vec::new();
        for v in &values {
            encode(ValueRef::from(v), &mut bytes);
        }
        assert_eq!(decode(&bytes).unwrap(), values);
    }

    #[test]
    fn encodings_sort_as_their_values_do() {
        let ints = [i64::MIN, -2, -1, 0, 1, 256, i64::MAX];
        for w in ints.windows(2) {
            assert!(enc(ValueRef::Integer(w[0])) < enc(ValueRef::Integer(w[1])), "{w:?}");
        }
        let reals = [f64::NEG_INFINITY, -2.5, -0.1, 0.0, 1e-300, 3.0, f64::INFINITY];
        for w in reals.windows(2) {
            assert!(enc(ValueRef::Real(w[0])) < enc(ValueRef::Real(w[1])), "{w:?}");
        }
        let texts = ["", "\0", "a", "a\0", "aa", "b"];
        for w in texts.windows(2) {
            let (a, b) =
                (enc(ValueRef::Text(w[0].as_bytes())), enc(ValueRef::Text(w[1].as_bytes())));
            assert!(a < b, "{w:?}");
        }
    }

    #[test]
    fn the_type_is_part_of_the_value() {
        assert_ne!(enc(ValueRef::Integer(1)), enc(ValueRef::Real(1.0)));
        assert_ne!(enc(ValueRef::Text(b"1")), enc(ValueRef::Blob(b"1")));
        assert_ne!(enc(ValueRef::Null), enc(ValueRef::Text(b"")));
    }

    #[test]
    fn adjacent_text_values_cannot_be_confused() {
        let mut buf = Vec::new();
        let a = row_digest([ValueRef::Text(b"ab"), ValueRef::Text(b"c")], &mut buf);
        let b = row_digest([ValueRef::Text(b"a"), ValueRef::Text(b"bc")], &mut buf);
        assert_ne!(a, b);
    }

    #[test]
    fn the_table_digest_ignores_order_but_counts_duplicates() {
        let mut buf = Vec::new();
        let rows: Vec<RowDigest> =
            (0..50).map(|i| row_digest([ValueRef::Integer(i)], &mut buf)).collect();
        let (mut forward, mut backward) = (TableDigest::default(), TableDigest::default());
        rows.iter().for_each(|r| forward.add(r));
        rows.iter().rev().for_each(|r| backward.add(r));
        assert_eq!(forward, backward);
        let mut twice = forward;
        twice.add(&rows[0]);
        assert_ne!(twice, forward);
        assert_eq!(forward.hex().len(), 64);
    }

    #[test]
    fn digests_of_parts_merge_into_the_digest_of_the_whole() {
        let mut buf = Vec::new();
        let rows: Vec<RowDigest> =
            (0..40).map(|i| row_digest([ValueRef::Integer(i)], &mut buf)).collect();
        let mut whole = TableDigest::default();
        rows.iter().for_each(|r| whole.add(r));
        let parts = rows.chunks(7).map(|chunk| {
            let mut part = TableDigest::default();
            chunk.iter().for_each(|r| part.add(r));
            part
        });
        assert_eq!(parts.fold(TableDigest::default(), TableDigest::merge), whole);
    }

    #[test]
    fn the_buckets_that_differ_hold_the_rows_that_differ() {
        let mut buf = Vec::new();
        let (mut left, mut right) = (Digests::default(), Digests::default());
        for i in 0..1000 {
            let key = enc(ValueRef::Integer(i));
            let row = row_digest([ValueRef::Integer(i), ValueRef::Integer(i * 2)], &mut buf);
            left.add(bucket(&key), &row);
            let other = if i == 700 { i * 3 } else { i * 2 };
            let row = row_digest([ValueRef::Integer(i), ValueRef::Integer(other)], &mut buf);
            right.add(bucket(&key), &row);
        }
        assert_ne!(left.total(), right.total());
        let differing = left.differing(&right);
        let which: Vec<usize> = (0..BUCKETS).filter(|&b| differing.contains(b)).collect();
        assert_eq!(which, [bucket(&enc(ValueRef::Integer(700)))]);
        assert!(left.differing(&left).0.iter().all(|d| !d));
        let halves = [(0..500), (500..1000)].map(|range| {
            let mut d = Digests::default();
            for i in range {
                let row = row_digest([ValueRef::Integer(i), ValueRef::Integer(i * 2)], &mut buf);
                d.add(bucket(&enc(ValueRef::Integer(i))), &row);
            }
            d
        });
        assert_eq!(halves[0].clone().merge(&halves[1]), left);
    }

    #[test]
    fn zero_bytes_are_escaped_wherever_they_are() {
        assert_eq!(enc(ValueRef::Text(b"")), [TEXT, 0, 0]);
        assert_eq!(enc(ValueRef::Blob(b"\0")), [BLOB, 0, 0xFF, 0, 0]);
        assert_eq!(
            enc(ValueRef::Blob(b"a\0\0b\0")),
            [BLOB, b'a', 0, 0xFF, 0, 0xFF, b'b', 0, 0xFF, 0, 0]
        );
    }

    #[test]
    fn the_sum_carries_across_limbs_and_wraps() {
        let mut d = TableDigest::default();
        let mut ones = [0u8; 32];
        ones[8..].fill(0xFF);
        d.add(&ones);
        let mut one = [0u8; 32];
        one[31] = 1;
        d.add(&one);
        assert_eq!(d.hex(), format!("{:016x}{:048x}", 1, 0));
        let mut max = TableDigest::default();
        max.add(&[0xFF; 32]);
        max.add(&one);
        assert_eq!(max, TableDigest::default());
    }

    #[test]
    fn values_are_shown_as_sql_literals() {
        let names = vec!["id".to_owned(), "name".to_owned(), "raw".to_owned()];
        let values = vec![Value::Integer(3), Value::Text("O'Neil".into()), Value::Blob(vec![1])];
        assert_eq!(show_named(&names, &values), "(id=3, name='O''Neil', raw=x'01')");
        assert_eq!(show(&Value::Real(1.0)), "1.0");
        assert_eq!(show(&Value::Null), "NULL");
    }
}
