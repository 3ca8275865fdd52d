//! Answers written as JSON, with parts written ahead: a resolver that can write its answer as
//! JSON at once (a page of plain list items) hands it over as a spliced value, which `to_json`
//! copies into the answer as it is, instead of building a value per item and writing it after.
//!
//! A spliced value is an object whose only key is `SPLICE_KEY`, which no GraphQL name can be,
//! holding the JSON as bytes. Resolvers write them only for requests that carry `Splice`, whose
//! answers `to_json` writes; answers written otherwise (subscription events) never hold one.

use std::sync::LazyLock;

use async_graphql::{ContextSelectionSet, Name, Response, Value, indexmap::IndexMap};
use serde::Serialize;

/// Request data: this request's answer is written by `to_json`, so resolvers may splice.
pub struct Splice;

/// Not a GraphQL name (those are `[_A-Za-z][_0-9A-Za-z]*`), so never a response key.
const SPLICE_KEY: &str = "\0json";

static SPLICE_NAME: LazyLock<Name> = LazyLock::new(|| Name::new(SPLICE_KEY));

/// Whether the answer of the request `ctx` belongs to is written by `to_json`.
pub fn splices(ctx: &ContextSelectionSet<'_>) -> bool {
    ctx.data_opt::<Splice>().is_some()
}

/// A value that `to_json` writes as `json`, which must be one whole JSON value.
pub fn spliced(json: Vec<u8>) -> Value {
    let mut object = IndexMap::with_capacity(1);
    object.insert(SPLICE_NAME.clone(), Value::Binary(json.into()));
    Value::Object(object)
}

/// The JSON written ahead that `value` stands for, if it is a spliced value.
fn splice_of(value: &Value) -> Option<&[u8]> {
    let Value::Object(object) = value else {
        return None;
    };
    match object.first() {
        Some((key, Value::Binary(json))) if object.len() == 1 && key.as_str() == SPLICE_KEY => {
            Some(json)
        }
        _ => None,
    }
}

/// Appends `text` as a JSON string.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    // Writing a `str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(out, text);
}

/// Appends `key` as the key of a JSON object member: `"key":`.
pub fn write_key(out: &mut Vec<u8>, key: &str) {
    write_str(out, key);
    out.push(b':');
}

/// The answer as JSON, in the shape async-graphql writes it (`data`, then `extensions` and
/// `errors` when there are any), spliced values copied in.
pub fn to_json(response: &Response) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1024 + estimate(&response.data));
    out.extend_from_slice(b"{\"data\":");
    write_value(&mut out, &response.data)?;
    if !response.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":");
        response
            .extensions
            .serialize(&mut serde_json::Serializer::new(&mut out))?;
    }
    if !response.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        response
            .errors
            .serialize(&mut serde_json::Serializer::new(&mut out))?;
    }
    out.push(b'}');
    Ok(out)
}

/// About how long `value` is written: the answer is written once, not copied as it grows.
fn estimate(value: &Value) -> usize {
    match value {
        _ if let Some(json) = splice_of(value) => json.len(),
        Value::List(items) => items.iter().map(|item| 1 + estimate(item)).sum(),
        Value::Object(object) => object
            .iter()
            .map(|(key, item)| key.len() + 4 + estimate(item))
            .sum(),
        Value::String(text) => text.len() + 2,
        _ => 8,
    }
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> serde_json::Result<()> {
    if let Some(json) = splice_of(value) {
        out.extend_from_slice(json);
        return Ok(());
    }
    match value {
        Value::List(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(object) => {
            out.push(b'{');
            for (index, (key, item)) in object.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_key(out, key);
                write_value(out, item)?;
            }
            out.push(b'}');
        }
        scalar => scalar.serialize(&mut serde_json::Serializer::new(out))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use async_graphql::{Pos, ServerError};
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_what_async_graphql_writes_with_spliced_values_copied_in() {
        let value = Value::from_json(json!({
            "a": [1, 2.5, "x\"y", null, true, {"b": "c"}],
            "d": {}
        }))
        .expect("a value");
        let mut response = Response::new(value);
        response.extensions.insert("cost".into(), Value::from(3));
        response
            .errors
            .push(ServerError::new("no", Some(Pos { line: 1, column: 2 })));
        assert_eq!(
            to_json(&response).expect("JSON"),
            serde_json::to_vec(&response).expect("JSON")
        );

        let mut object = IndexMap::new();
        object.insert(Name::new("list"), spliced(br#"[{"id":"1"}]"#.to_vec()));
        let written = to_json(&Response::new(Value::Object(object))).expect("JSON");
        assert_eq!(written, br#"{"data":{"list":[{"id":"1"}]}}"#);
    }
}
