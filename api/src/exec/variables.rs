//! The values of an operation's variables, coerced to the types the operation declares before
//! anything runs (the specification's CoerceVariableValues): a value that does not fit refuses
//! the whole request, even when it is only used under a skipped field.

use async_graphql::{
    Name, Positioned, ScalarType, Value, Variables,
    indexmap::IndexMap,
    parser::types::{BaseType, Type, VariableDefinition},
};
use chrono::{DateTime, Utc};

use super::types::{Named, Types};

/// Whether a value is one of a scalar's.
type Accepts = fn(&Value) -> bool;

/// The scalars of the schema beyond GraphQL's own, and what each accepts.
const CUSTOM_SCALARS: &[(&str, Accepts)] = &[("DateTime", |value| {
    <DateTime<Utc> as ScalarType>::parse(value.clone()).is_ok()
})];

/// The scalars GraphQL defines.
const BUILT_IN_SCALARS: [&str; 5] = ["Int", "Float", "String", "Boolean", "ID"];

/// The scalars of `types` that variables cannot be coerced to: none, or a scalar was added
/// to the schema without its rule here.
pub fn unknown_scalars(types: &Types) -> Vec<&str> {
    types
        .scalars()
        .filter(|name| {
            !BUILT_IN_SCALARS.contains(name)
                && !CUSTOM_SCALARS.iter().any(|(known, _)| known == name)
        })
        .collect()
}

/// The operation's variables, coerced; the message of a request error for the first variable
/// that is missing or does not fit its type.
pub fn coerce(
    types: &Types,
    definitions: &[Positioned<VariableDefinition>],
    given: &Variables,
) -> Result<Variables, String> {
    let mut coerced = Variables::default();
    for definition in definitions {
        let definition = &definition.node;
        let name = &definition.name.node;
        let ty = &definition.var_type.node;
        match given.get(name) {
            None => {
                if let Some(default) = &definition.default_value {
                    coerced.insert(name.clone(), default.node.clone());
                } else if !ty.nullable {
                    return Err(format!(
                        "Variable \"${name}\" of required type \"{ty}\" was not provided."
                    ));
                }
            }
            Some(value) => {
                let value = Coercion { types }
                    .value(value, ty)
                    .map_err(|(path, reason)| {
                        let at = if path.is_empty() {
                            String::new()
                        } else {
                            format!(" at \"{name}{path}\"")
                        };
                        format!("Variable \"${name}\" got invalid value{at}; {reason}")
                    })?;
                coerced.insert(name.clone(), value);
            }
        }
    }
    Ok(coerced)
}

/// Where in a variable's value a problem is (`.field[2]`), and what it is.
type Problem = (String, String);

struct Coercion<'t> {
    types: &'t Types,
}

impl Coercion<'_> {
    /// Input coercion of `value` to `ty` (a JSON value: enums arrive as strings).
    fn value(&self, value: &Value, ty: &Type) -> Result<Value, Problem> {
        if *value == Value::Null {
            return if ty.nullable {
                Ok(Value::Null)
            } else {
                Err((
                    String::new(),
                    format!("expected a value of type \"{ty}\", not null"),
                ))
            };
        }
        match &ty.base {
            BaseType::List(item) => match value {
                Value::List(items) => items
                    .iter()
                    .enumerate()
                    .map(|(index, value)| {
                        self.value(value, item)
                            .map_err(|(path, reason)| (format!("[{index}]{path}"), reason))
                    })
                    .collect::<Result<_, _>>()
                    .map(Value::List),
                // A single value where a list is expected is a list of one.
                value => Ok(Value::List(vec![self.value(value, item)?])),
            },
            BaseType::Named(name) => self.named(value, name),
        }
    }

    fn named(&self, value: &Value, name: &Name) -> Result<Value, Problem> {
        let expected = || {
            (
                String::new(),
                format!("expected a value of type \"{name}\""),
            )
        };
        match self.types.get(name) {
            Some(Named::Scalar) => scalar(value, name).ok_or_else(expected),
            Some(Named::Enum { values }) => match value {
                Value::String(text) if values.contains(text.as_str()) => {
                    Ok(Value::Enum(Name::new(text)))
                }
                Value::Enum(name) if values.contains(name.as_str()) => Ok(value.clone()),
                _ => Err(expected()),
            },
            Some(Named::Input { fields }) => {
                let Value::Object(given) = value else {
                    return Err(expected());
                };
                if let Some(unknown) = given
                    .keys()
                    .find(|key| !fields.iter().any(|field| field.name == **key))
                {
                    return Err((
                        String::new(),
                        format!("\"{unknown}\" is not a field of \"{name}\""),
                    ));
                }
                let mut coerced = IndexMap::with_capacity(fields.len());
                for field in fields {
                    let inside =
                        |(path, reason): Problem| (format!(".{}{path}", field.name), reason);
                    match given.get(&field.name) {
                        Some(value) => {
                            coerced.insert(
                                field.name.clone(),
                                self.value(value, &field.ty).map_err(inside)?,
                            );
                        }
                        None => match &field.default {
                            Some(default) => {
                                coerced.insert(field.name.clone(), default.clone());
                            }
                            None if !field.ty.nullable => {
                                return Err(inside((
                                    String::new(),
                                    format!("the field of type \"{}\" is required", field.ty),
                                )));
                            }
                            None => {}
                        },
                    }
                }
                Ok(Value::Object(coerced))
            }
            _ => Err((String::new(), format!("\"{name}\" is not an input type"))),
        }
    }
}

/// Whether `value` is a value of the schema's own scalar `name`; `None` for other scalars.
pub fn scalar_accepts(name: &str, value: &Value) -> Option<bool> {
    CUSTOM_SCALARS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, accepts)| accepts(value))
}

/// Input coercion of `value` to the scalar `name`; `None` when it does not fit.
fn scalar(value: &Value, name: &str) -> Option<Value> {
    match (name, value) {
        ("Int", Value::Number(number)) => {
            let integer = number.as_i64().or_else(|| {
                number
                    .as_f64()
                    .filter(|float| float.fract() == 0.0)
                    .map(|float| float as i64)
            })?;
            i32::try_from(integer).ok().map(Value::from)
        }
        ("Float", Value::Number(number)) => number.as_f64().map(Value::from),
        ("String", Value::String(_)) | ("Boolean", Value::Boolean(_)) => Some(value.clone()),
        ("ID", Value::String(_)) => Some(value.clone()),
        ("ID", Value::Number(number)) => number.as_i64().map(|id| Value::String(id.to_string())),
        _ => CUSTOM_SCALARS
            .iter()
            .find(|(known, _)| *known == name)
            .filter(|(_, accepts)| accepts(value))
            .map(|_| value.clone()),
    }
}
