//! Numbers exactly as Terraform sends them.
//!
//! Terraform's numbers are arbitrary-precision decimals. Its msgpack encoding
//! sends an integer that fits 64 bits as an integer, a value that a binary
//! double holds exactly as a float, and anything else (`70.1`, `1e30`) as its
//! decimal text. The provider's types hold whole numbers as `i64` and
//! fractional ones as `f64`, so before a value is decoded each number
//! attribute of the schema is brought into the form its type reads: decimal
//! text becomes a double or an integer, an integral float an integer. A number
//! no type of the provider can hold (`port = 80.5`, `max_size = 1e30`) is
//! reported on its attribute and decoded as unknown, so decoding never fails
//! on it and validation judges the rest.

use tf_provider::schema::{AttributeType, Block, NestedBlock};
use tf_provider::{AttributePath, Diagnostics};

/// A msgpack value, kept as it came except for numbers rewritten on purpose.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Nil,
    Bool(bool),
    Int(i64),
    /// an unsigned integer beyond `i64::MAX`
    BigUint(u64),
    F32(f32),
    F64(f64),
    Str(Vec<u8>),
    Bin(Vec<u8>),
    Array(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Ext(i8, Vec<u8>),
}

/// cty's encoding of an unknown value: extension type 0 with one zero byte.
fn unknown() -> Node {
    Node::Ext(0, vec![0])
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn uint(&mut self, width: usize) -> Option<u64> {
        Some(
            self.take(width)?
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
        )
    }

    fn sint(&mut self, width: usize) -> Option<i64> {
        let raw = self.uint(width)?;
        let shift = 64 - 8 * width as u32;
        Some(((raw << shift) as i64) >> shift)
    }

    fn len(&mut self, width: usize) -> Option<usize> {
        self.uint(width).map(|n| n as usize)
    }

    fn node(&mut self) -> Option<Node> {
        let marker = *self.take(1)?.first()?;
        Some(match marker {
            0x00..=0x7f => Node::Int(i64::from(marker)),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f))?,
            0x90..=0x9f => self.array(usize::from(marker & 0x0f))?,
            0xa0..=0xbf => Node::Str(self.take(usize::from(marker & 0x1f))?.to_vec()),
            0xc0 => Node::Nil,
            0xc2 => Node::Bool(false),
            0xc3 => Node::Bool(true),
            0xc4..=0xc6 => {
                let n = self.len(1 << (marker - 0xc4))?;
                Node::Bin(self.take(n)?.to_vec())
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (marker - 0xc7))?;
                self.ext(n)?
            }
            0xca => Node::F32(f32::from_bits(self.uint(4)? as u32)),
            0xcb => Node::F64(f64::from_bits(self.uint(8)?)),
            0xcc..=0xcf => {
                let n = self.uint(1 << (marker - 0xcc))?;
                i64::try_from(n).map_or(Node::BigUint(n), Node::Int)
            }
            0xd0..=0xd3 => Node::Int(self.sint(1 << (marker - 0xd0))?),
            0xd4..=0xd8 => self.ext(1 << (marker - 0xd4))?,
            0xd9..=0xdb => {
                let n = self.len(1 << (marker - 0xd9))?;
                Node::Str(self.take(n)?.to_vec())
            }
            0xdc | 0xdd => {
                let n = self.len(2 << (marker - 0xdc))?;
                self.array(n)?
            }
            0xde | 0xdf => {
                let n = self.len(2 << (marker - 0xde))?;
                self.map(n)?
            }
            0xe0..=0xff => Node::Int(i64::from(marker as i8)),
            // 0xc1 is never used
            _ => return None,
        })
    }

    fn ext(&mut self, n: usize) -> Option<Node> {
        let kind = *self.take(1)?.first()? as i8;
        Some(Node::Ext(kind, self.take(n)?.to_vec()))
    }

    fn array(&mut self, n: usize) -> Option<Node> {
        // each element takes at least a byte: a bogus length cannot reserve memory
        let mut items = Vec::with_capacity(n.min(self.bytes.len()));
        for _ in 0..n {
            items.push(self.node()?);
        }
        Some(Node::Array(items))
    }

    fn map(&mut self, n: usize) -> Option<Node> {
        let mut entries = Vec::with_capacity(n.min(self.bytes.len()));
        for _ in 0..n {
            entries.push((self.node()?, self.node()?));
        }
        Some(Node::Map(entries))
    }
}

fn write(node: &Node, out: &mut Vec<u8>) {
    use rmp::encode;
    // Writing into a Vec cannot fail; the lengths came from a msgpack document.
    let _ = match node {
        Node::Nil => encode::write_nil(out).map_err(drop),
        Node::Bool(b) => encode::write_bool(out, *b).map_err(drop),
        Node::Int(n) => encode::write_sint(out, *n).map(drop).map_err(drop),
        Node::BigUint(n) => encode::write_uint(out, *n).map(drop).map_err(drop),
        Node::F32(x) => encode::write_f32(out, *x).map_err(drop),
        Node::F64(x) => encode::write_f64(out, *x).map_err(drop),
        Node::Str(bytes) => {
            let _ = encode::write_str_len(out, bytes.len() as u32);
            out.extend_from_slice(bytes);
            Ok(())
        }
        Node::Bin(bytes) => {
            let _ = encode::write_bin_len(out, bytes.len() as u32);
            out.extend_from_slice(bytes);
            Ok(())
        }
        Node::Array(items) => {
            let _ = encode::write_array_len(out, items.len() as u32);
            items.iter().for_each(|item| write(item, out));
            Ok(())
        }
        Node::Map(entries) => {
            let _ = encode::write_map_len(out, entries.len() as u32);
            for (key, value) in entries {
                write(key, out);
                write(value, out);
            }
            Ok(())
        }
        Node::Ext(kind, data) => {
            let _ = encode::write_ext_meta(out, data.len() as u32, *kind);
            out.extend_from_slice(data);
            Ok(())
        }
    };
}

/// Which number attributes of a schema take fractions; every other one counts.
pub struct NumberShape<'a> {
    pub schema: &'a Block,
    /// names of the number attributes held as `f64`
    pub fractional: &'a [&'a str],
}

/// Why a number cannot be used.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unusable {
    NotWhole,
    TooLarge,
    /// more digits than a double holds: the nearest one would differ from
    /// what the configuration says, and Terraform would refuse the plan
    Inexact(f64),
}

/// A plain decimal's digits without redundant zeros or sign (`-0` is `0`), so
/// two texts of the same number compare equal; `None` for other notations.
fn canonical_decimal(text: &str) -> Option<String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int_part, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if !(int_part.bytes().chain(fraction.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (int_part, fraction) = (
        int_part.trim_start_matches('0'),
        fraction.trim_end_matches('0'),
    );
    if int_part.is_empty() && fraction.is_empty() {
        return Some("0".into());
    }
    Some(format!(
        "{}{int_part}.{fraction}",
        if negative { "-" } else { "" }
    ))
}

/// Decimal text as Terraform writes it: an optional sign, digits, an optional fraction.
fn whole_from_text(text: &str) -> Result<i64, Unusable> {
    let (int_part, fraction) = text.split_once('.').unwrap_or((text, ""));
    if !fraction.bytes().all(|b| b == b'0') {
        return Err(Unusable::NotWhole);
    }
    int_part.parse::<i64>().map_err(|_| {
        // digits that do not fit 64 bits; anything else was not a number at all
        if int_part
            .trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            Unusable::TooLarge
        } else {
            Unusable::NotWhole
        }
    })
}

fn whole_from_float(x: f64) -> Result<i64, Unusable> {
    if x.fract() != 0.0 && x.is_finite() {
        return Err(Unusable::NotWhole);
    }
    // i64::MAX as f64 rounds up to 2^63, which is out of range itself
    if !x.is_finite() || x >= i64::MAX as f64 || x < i64::MIN as f64 {
        return Err(Unusable::TooLarge);
    }
    Ok(x as i64)
}

/// Brings one number into the form its type reads.
fn normalize(node: &mut Node, fractional: bool) -> Result<(), Unusable> {
    let replacement = match (&*node, fractional) {
        (Node::BigUint(_), false) => return Err(Unusable::TooLarge),
        (Node::BigUint(n), true) => Node::F64(*n as f64),
        (Node::F32(x), false) => Node::Int(whole_from_float(f64::from(*x))?),
        (Node::F64(x), false) => Node::Int(whole_from_float(*x)?),
        (Node::F32(x), true) if x.is_finite() => return Ok(()),
        (Node::F64(x), true) if x.is_finite() => return Ok(()),
        (Node::F32(_) | Node::F64(_), true) => return Err(Unusable::TooLarge),
        (Node::Str(bytes), _) => {
            let text = String::from_utf8_lossy(bytes).into_owned();
            if fractional {
                match text.parse::<f64>() {
                    Ok(x) if x.is_finite() => {
                        // Terraform compares the planned double with the text by value
                        if let (Some(written), Some(held)) =
                            (canonical_decimal(&text), canonical_decimal(&x.to_string()))
                        {
                            if written != held {
                                return Err(Unusable::Inexact(x));
                            }
                        }
                        Node::F64(x)
                    }
                    _ => return Err(Unusable::TooLarge),
                }
            } else {
                Node::Int(whole_from_text(&text)?)
            }
        }
        // integers, null, unknown, or a value of another type that decoding reports
        _ => return Ok(()),
    };
    *node = replacement;
    Ok(())
}

/// How a number was written, for the message.
fn number_text(node: &Node) -> String {
    match node {
        Node::Int(n) => n.to_string(),
        Node::BigUint(n) => n.to_string(),
        Node::F32(x) => x.to_string(),
        Node::F64(x) => x.to_string(),
        Node::Str(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    }
}

fn report(node: &Node, why: Unusable, name: &str, path: AttributePath, diags: &mut Diagnostics) {
    let text = number_text(node);
    let (summary, detail) = match why {
        Unusable::NotWhole => (
            "Whole number required",
            format!("{name} is {text}, but it counts whole units. Write a whole number, for example {}.", text.split('.').next().unwrap_or("1")),
        ),
        Unusable::TooLarge => (
            "Number out of range",
            format!("{name} is {text}, beyond any value it accepts. Use a value in the range the attribute's documentation gives."),
        ),
        Unusable::Inexact(nearest) => (
            "Number more precise than AWS takes",
            format!("{name} is {text}, with more digits than AWS's API keeps (a double, about 15 significant digits), so it cannot be applied exactly as written. Write it with fewer digits, for example {nearest}."),
        ),
    };
    diags.error(summary, detail, path);
}

fn walk_block(
    node: &mut Node,
    block: &Block,
    shape: &NumberShape,
    path: &AttributePath,
    diags: &mut Diagnostics,
) {
    let Node::Map(entries) = node else { return };
    for (key, value) in entries {
        let Node::Str(key) = key else { continue };
        let Ok(name) = std::str::from_utf8(key) else {
            continue;
        };
        let here = path.clone().attribute(name.to_string());
        if let Some(attribute) = block.attributes.get(name) {
            if matches!(attribute.attr_type, AttributeType::Number) {
                let fractional = shape.fractional.contains(&name);
                if let Err(why) = normalize(value, fractional) {
                    report(value, why, name, here, diags);
                    *value = unknown();
                }
            }
        } else if let Some(nested) = block.blocks.get(name) {
            walk_nested(value, nested, shape, &here, diags);
        }
    }
}

fn walk_nested(
    node: &mut Node,
    nested: &NestedBlock,
    shape: &NumberShape,
    path: &AttributePath,
    diags: &mut Diagnostics,
) {
    match (nested, node) {
        (NestedBlock::Single(block) | NestedBlock::Group(block), node) => {
            walk_block(node, block, shape, path, diags)
        }
        (
            NestedBlock::List(block) | NestedBlock::Optional(block) | NestedBlock::Set(block),
            Node::Array(items),
        ) => {
            for (index, item) in items.iter_mut().enumerate() {
                let here = path.clone().index(index as i64);
                walk_block(item, block, shape, &here, diags);
            }
        }
        (NestedBlock::Map(block), Node::Map(entries)) => {
            for (key, item) in entries.iter_mut() {
                let key = match key {
                    Node::Str(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                    _ => continue,
                };
                walk_block(item, block, shape, &path.clone().key(key), diags);
            }
        }
        _ => {}
    }
}

/// Rewrites the number attributes of a msgpack object (see the module docs).
/// Unusable numbers are reported in `diags` on their attribute. Bytes that
/// are not msgpack come back unchanged for the decoder to refuse.
pub fn normalize_numbers(msgpack: &[u8], shape: &NumberShape, diags: &mut Diagnostics) -> Vec<u8> {
    let mut reader = Reader { bytes: msgpack };
    let Some(mut root) = reader.node() else {
        return msgpack.to_vec();
    };
    walk_block(
        &mut root,
        shape.schema,
        shape,
        &AttributePath::root(),
        diags,
    );
    let mut out = Vec::with_capacity(msgpack.len());
    write(&root, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> Vec<u8> {
        let node = Reader { bytes }.node().expect("msgpack");
        let mut out = Vec::new();
        write(&node, &mut out);
        out
    }

    #[test]
    fn every_kind_of_value_reads_and_writes_back_unchanged() {
        let value = serde_json::json!({
            "s": "text", "n": -5, "big": 1u64 << 40, "neg": -70000, "f": 70.5,
            "b": true, "nil": null, "list": [1, 2, [3]], "map": {"k": "v"}
        });
        let bytes = rmp_serde::to_vec_named(&value).unwrap();
        assert_eq!(round_trip(&bytes), bytes);
        let unknown = [0xd4, 0x00, 0x00];
        assert_eq!(round_trip(&unknown), unknown);
        let huge = [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(round_trip(&huge), huge);
    }

    #[test]
    fn truncated_input_is_not_msgpack() {
        assert_eq!(
            Reader {
                bytes: &[0x92, 0x01]
            }
            .node(),
            None
        );
        assert_eq!(
            Reader {
                bytes: &[0xdd, 0xff, 0xff, 0xff, 0xff]
            }
            .node(),
            None
        );
    }

    #[test]
    fn whole_numbers_accept_exact_integers_in_any_encoding() {
        let mut node = Node::F64(80.0);
        assert_eq!(normalize(&mut node, false), Ok(()));
        assert_eq!(node, Node::Int(80));
        let mut text = Node::Str(b"12".to_vec());
        assert_eq!(normalize(&mut text, false), Ok(()));
        assert_eq!(text, Node::Int(12));
        for (bad, why) in [
            (Node::F64(80.5), Unusable::NotWhole),
            (Node::Str(b"70.1".to_vec()), Unusable::NotWhole),
            (
                Node::Str(b"1000000000000000000000000000000".to_vec()),
                Unusable::TooLarge,
            ),
            (Node::BigUint(u64::MAX), Unusable::TooLarge),
            (Node::F64(1e30), Unusable::TooLarge),
            (Node::F64(f64::INFINITY), Unusable::TooLarge),
        ] {
            let mut node = bad.clone();
            assert_eq!(normalize(&mut node, false), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn fractional_numbers_read_decimal_text_as_the_nearest_double() {
        for (text, expected) in [("70.1", 70.1), ("33.3", 33.3), ("0.0001", 0.0001)] {
            let mut node = Node::Str(text.as_bytes().to_vec());
            assert_eq!(normalize(&mut node, true), Ok(()));
            assert_eq!(node, Node::F64(expected));
            // Terraform compares numbers by their shortest decimal text: this one round-trips
            assert_eq!(expected.to_string(), text);
        }
        for (text, nearest) in [
            ("45.000000000000001", 45.0),
            ("0.33333333333333333333333333333333333333", 1.0 / 3.0),
        ] {
            let mut node = Node::Str(text.as_bytes().to_vec());
            assert_eq!(
                normalize(&mut node, true),
                Err(Unusable::Inexact(nearest)),
                "{text}"
            );
        }
        // the same number written with other zeros is exact
        let mut node = Node::Str(b"070.100".to_vec());
        assert_eq!(normalize(&mut node, true), Ok(()));
        assert_eq!(node, Node::F64(70.1));
        let mut huge = Node::Str(format!("1{}", "0".repeat(400)).into_bytes());
        assert_eq!(normalize(&mut huge, true), Err(Unusable::TooLarge));
    }
}
