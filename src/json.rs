//! Strict JSON: parsing into a `serde_json::Value` that refuses an object whose member names
//! repeat, at any depth.
//!
//! `serde_json` keeps the last of two members with the same name. Two readers of the same
//! bytes that disagree on which one wins (a proxy that keeps the first, a handler that keeps
//! the last) are a classic way to smuggle a value past a check, so a request body or a token
//! that repeats a name is refused instead. Names are compared after unescaping: `"a"` and
//! `"\u0061"` are the same member.
//!
//! The check runs while parsing, in one pass: the value is built by our own `serde` visitor,
//! which looks each name up in the object being built before inserting it. Nesting depth is
//! bounded by `serde_json`'s own recursion limit (128), exactly as for a plain `Value`.
//!
//! Pure: knows nothing of HTTP or storage.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Value};
use std::fmt;

/// Longest member name quoted in full in an error message; longer ones are cut, so that a
/// huge name does not make a huge error answer.
const MAX_NAME_IN_MESSAGE: usize = 64;

/// Parses `bytes` as one JSON text (white space around it allowed, nothing else) into a
/// [`Value`]. Fails as `serde_json` does on malformed JSON, and also when any object repeats a
/// member name: the error then reads `duplicate object member name "x" at line L column C`.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<StrictValue>(bytes).map(|StrictValue(value)| value)
}

/// A [`Value`] whose deserialization fails on a repeated object member name.
///
/// Integer and float literals stay distinct as in `Value` (`1` is an integer, `1.0` a float).
#[derive(Debug, Clone, PartialEq)]
pub struct StrictValue(pub Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON without repeated object member names")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // JSON has no NaN or infinity, so `from_f64` returns `None` only for input serde_json
        // does not produce; an error rather than an invented value all the same.
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            // One lookup decides and inserts: the check costs no second hash of the name.
            match members.entry(name) {
                Entry::Occupied(taken) => {
                    return Err(de::Error::custom(format_args!(
                        "duplicate object member name {}",
                        quoted(taken.key())
                    )));
                }
                Entry::Vacant(slot) => {
                    let StrictValue(value) = access.next_value()?;
                    slot.insert(value);
                }
            }
        }
        Ok(Value::Object(members))
    }
}

/// `name` as a JSON string literal, cut to [`MAX_NAME_IN_MESSAGE`] characters.
fn quoted(name: &str) -> String {
    match name.char_indices().nth(MAX_NAME_IN_MESSAGE) {
        Some((cut, _)) => format!("{}...", Value::from(&name[..cut])),
        None => Value::from(name).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error_of(text: &str) -> String {
        match from_slice(text.as_bytes()) {
            Ok(value) => panic!("{text} parsed as {value}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn a_json_text_without_repeated_names_reads_as_serde_json_reads_it() {
        for text in [
            r#"{"a": 1, "b": [true, null, -2, 3.5, "x"], "c": {"a": 1, "d": {}}}"#,
            r#"[{"a": 1}, {"a": 2}]"#,
            r#" "text" "#,
            "18446744073709551615",
            "-9223372036854775808",
            "1e300",
            "1.0",
        ] {
            let plain: Value = serde_json::from_str(text).unwrap();
            assert_eq!(from_slice(text.as_bytes()).unwrap(), plain, "{text}");
        }
    }

    #[test]
    fn a_repeated_name_is_an_error_naming_it_at_any_depth() {
        let top = error_of(r#"{"name": "a", "name": "b"}"#);
        assert!(
            top.starts_with(r#"duplicate object member name "name" at line 1"#),
            "{top}"
        );
        let nested = error_of(r#"{"outer": [1, {"inner": {"x": 1, "y": 2, "x": 3}}]}"#);
        assert!(nested.contains(r#"name "x""#), "{nested}");
        let in_array = error_of(r#"[{"k": 1, "k": 1}]"#);
        assert!(in_array.contains(r#"name "k""#), "{in_array}");
    }

    #[test]
    fn names_are_compared_after_unescaping() {
        let err = error_of(r#"{"a": 1, "\u0061": 2}"#);
        assert!(err.contains(r#"name "a""#), "{err}");
        let err = error_of(r#"{"\u00e9": 1, "é": 2}"#);
        assert!(err.contains(r#"name "é""#), "{err}");
        // Same name in sibling objects is fine.
        assert_eq!(
            from_slice(br#"{"a": {"k": 1}, "b": {"k": 1}}"#).unwrap(),
            json!({"a": {"k": 1}, "b": {"k": 1}})
        );
    }

    #[test]
    fn a_long_repeated_name_is_cut_in_the_message() {
        let name = "n".repeat(1000);
        let err = error_of(&format!(r#"{{"{name}": 1, "{name}": 2}}"#));
        assert!(err.len() < 200, "{err}");
        assert!(err.contains(&format!("\"{}\"...", "n".repeat(64))), "{err}");
    }

    #[test]
    fn nesting_is_bounded_like_serde_json() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        let err = error_of(&deep);
        assert!(err.contains("recursion limit"), "{err}");
        let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(from_slice(fine.as_bytes()).is_ok());
    }

    #[test]
    fn malformed_json_fails_as_before() {
        for text in ["{", "{\"a\" 1}", "[1,]", "{} {}", "", "nul"] {
            assert!(from_slice(text.as_bytes()).is_err(), "{text:?}");
        }
    }
}
