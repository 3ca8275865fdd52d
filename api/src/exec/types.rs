//! The schema's types as execution needs them — which type each field returns, which objects
//! an abstract type may be, what input types accept — read once, by introspection, from the
//! schema itself, so they cannot disagree with it.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, Value,
    parser::types::{BaseType, OperationType, Type},
};
use serde::Deserialize;

/// The named types of a schema.
#[derive(Debug, Default)]
pub struct Types {
    types: HashMap<String, Named>,
    /// The root types of queries, mutations and subscriptions.
    roots: [String; 3],
}

/// A named type.
#[derive(Debug)]
pub enum Named {
    Object {
        fields: HashMap<String, FieldType>,
    },
    /// An interface or a union: the objects it may be, in the schema's order.
    Abstract {
        fields: HashMap<String, FieldType>,
        possible: Vec<String>,
    },
    Scalar,
    Enum {
        values: HashSet<String>,
    },
    Input {
        fields: Vec<InputField>,
    },
}

/// What a field returns, and the types of its arguments.
#[derive(Debug)]
pub struct FieldType {
    pub ty: Type,
    pub args: HashMap<String, Type>,
}

/// A field of an input object.
#[derive(Debug)]
pub struct InputField {
    pub name: Name,
    pub ty: Type,
    pub default: Option<Value>,
}

impl Types {
    /// The types of Roster's schema; refused when variables could not be coerced to one of
    /// its scalars.
    pub async fn of_schema() -> Result<Types, String> {
        let types = Types::from_introspection(crate::graphql::introspect(INTROSPECTION).await?)?;
        let unknown = super::variables::unknown_scalars(&types);
        if !unknown.is_empty() {
            return Err(format!("no input coercion for the scalars {unknown:?}"));
        }
        Ok(types)
    }

    /// The types described by the answer to `INTROSPECTION`.
    fn from_introspection(data: serde_json::Value) -> Result<Types, String> {
        let answer: Answer = serde_json::from_value(data).map_err(|err| err.to_string())?;
        let root = |root: Option<NameOnly>| root.map(|root| root.name).unwrap_or_default();
        let mut types = Types {
            types: HashMap::new(),
            roots: [
                root(answer.schema.query_type),
                root(answer.schema.mutation_type),
                root(answer.schema.subscription_type),
            ],
        };
        let extra = [answer.s, answer.t, answer.f, answer.i, answer.e, answer.d];
        for described in answer.schema.types.into_iter().chain(extra) {
            let name = described.name.clone();
            types.types.entry(name).or_insert(described.named()?);
        }
        Ok(types)
    }

    /// The root type of operations of type `kind`.
    pub fn root(&self, kind: OperationType) -> &str {
        let index = match kind {
            OperationType::Query => 0,
            OperationType::Mutation => 1,
            OperationType::Subscription => 2,
        };
        &self.roots[index]
    }

    /// The names of the scalars.
    pub fn scalars(&self) -> impl Iterator<Item = &str> {
        self.types
            .iter()
            .filter(|(_, named)| matches!(named, Named::Scalar))
            .map(|(name, _)| name.as_str())
    }

    pub fn get(&self, name: &str) -> Option<&Named> {
        self.types.get(name)
    }

    /// The type field `field` of type `parent` returns; `None` for `__typename` and unknown
    /// fields.
    pub fn field(&self, parent: &str, field: &str) -> Option<&Type> {
        self.field_type(parent, field).map(|field| &field.ty)
    }

    /// Field `field` of type `parent`; `None` for `__typename` and unknown fields.
    pub fn field_type(&self, parent: &str, field: &str) -> Option<&FieldType> {
        match self.types.get(parent)? {
            Named::Object { fields, .. } | Named::Abstract { fields, .. } => fields.get(field),
            _ => None,
        }
    }

    /// The objects a value of type `name` may be: itself for an object, its possible types
    /// for an interface or a union.
    pub fn possible<'t>(&'t self, name: &'t str) -> Vec<&'t str> {
        match self.types.get(name) {
            Some(Named::Object { .. }) => vec![name],
            Some(Named::Abstract { possible, .. }) => possible.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a fragment on `condition` applies to an object of type `object`
    /// (DoesFragmentTypeApply).
    pub fn applies(&self, object: &str, condition: &str) -> bool {
        if object == condition {
            return true;
        }
        match self.types.get(condition) {
            Some(Named::Abstract { possible, .. }) => possible.iter().any(|name| name == object),
            _ => false,
        }
    }
}

/// The named type under a type's list and non-null wrappers.
pub fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(item) => named(item),
    }
}

/// What execution reads of the schema; the introspection types are asked for by name, since
/// `__schema.types` need not list them.
pub const INTROSPECTION: &str = r#"
query Types {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...T }
  }
  s: __type(name: "__Schema") { ...T }
  t: __type(name: "__Type") { ...T }
  f: __type(name: "__Field") { ...T }
  i: __type(name: "__InputValue") { ...T }
  e: __type(name: "__EnumValue") { ...T }
  d: __type(name: "__Directive") { ...T }
}
fragment T on __Type {
  kind name
  fields(includeDeprecated: true) { name args { name type { ...R } } type { ...R } }
  inputFields { name defaultValue type { ...R } }
  possibleTypes { name }
  enumValues(includeDeprecated: true) { name }
}
fragment R on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
"#;

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "__schema")]
    schema: SchemaTypes,
    s: Described,
    t: Described,
    f: Described,
    i: Described,
    e: Described,
    d: Described,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaTypes {
    query_type: Option<NameOnly>,
    mutation_type: Option<NameOnly>,
    subscription_type: Option<NameOnly>,
    types: Vec<Described>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Described {
    kind: String,
    name: String,
    fields: Option<Vec<DescribedField>>,
    input_fields: Option<Vec<DescribedInput>>,
    possible_types: Option<Vec<NameOnly>>,
    enum_values: Option<Vec<NameOnly>>,
}

#[derive(Deserialize)]
struct DescribedField {
    name: String,
    #[serde(default)]
    args: Vec<DescribedArgument>,
    #[serde(rename = "type")]
    ty: TypeRef,
}

#[derive(Deserialize)]
struct DescribedArgument {
    name: String,
    #[serde(rename = "type")]
    ty: TypeRef,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribedInput {
    name: String,
    #[serde(rename = "type")]
    ty: TypeRef,
    default_value: Option<String>,
}

#[derive(Deserialize)]
struct NameOnly {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeRef {
    kind: String,
    name: Option<String>,
    of_type: Option<Box<TypeRef>>,
}

impl TypeRef {
    fn to_type(&self) -> Result<Type, String> {
        let inner = || {
            self.of_type
                .as_deref()
                .ok_or_else(|| format!("a {} type without its type", self.kind))
        };
        Ok(match self.kind.as_str() {
            "NON_NULL" => Type {
                nullable: false,
                ..inner()?.to_type()?
            },
            "LIST" => Type {
                base: BaseType::List(Box::new(inner()?.to_type()?)),
                nullable: true,
            },
            _ => Type {
                base: BaseType::Named(Name::new(self.name.as_deref().unwrap_or_default())),
                nullable: true,
            },
        })
    }
}

impl Described {
    fn named(self) -> Result<Named, String> {
        let names = |list: Option<Vec<NameOnly>>| -> Vec<String> {
            list.unwrap_or_default()
                .into_iter()
                .map(|item| item.name)
                .collect()
        };
        let fields =
            |list: Option<Vec<DescribedField>>| -> Result<HashMap<String, FieldType>, String> {
                list.unwrap_or_default()
                    .into_iter()
                    .map(|field| {
                        let args = field
                            .args
                            .into_iter()
                            .map(|arg| Ok((arg.name, arg.ty.to_type()?)))
                            .collect::<Result<_, String>>()?;
                        let ty = field.ty.to_type()?;
                        Ok((field.name, FieldType { ty, args }))
                    })
                    .collect()
            };
        Ok(match self.kind.as_str() {
            "OBJECT" => Named::Object {
                fields: fields(self.fields)?,
            },
            "INTERFACE" | "UNION" => Named::Abstract {
                fields: fields(self.fields)?,
                possible: names(self.possible_types),
            },
            "ENUM" => Named::Enum {
                values: names(self.enum_values).into_iter().collect(),
            },
            "INPUT_OBJECT" => Named::Input {
                fields: self
                    .input_fields
                    .unwrap_or_default()
                    .into_iter()
                    .map(|field| {
                        Ok(InputField {
                            name: Name::new(&field.name),
                            ty: field.ty.to_type()?,
                            default: field.default_value.as_deref().map(literal).transpose()?,
                        })
                    })
                    .collect::<Result<_, String>>()?,
            },
            _ => Named::Scalar,
        })
    }
}

/// The value of a GraphQL literal, such as a default value as introspection writes it.
fn literal(text: &str) -> Result<Value, String> {
    let document = async_graphql::parser::parse_query(format!("{{ f(v: {text}) }}"))
        .map_err(|err| format!("the literal `{text}` does not parse: {err}"))?;
    let value = document.operations.iter().find_map(|(_, operation)| {
        let async_graphql::parser::types::Selection::Field(field) =
            &operation.node.selection_set.node.items.first()?.node
        else {
            return None;
        };
        field.node.get_argument("v").cloned()
    });
    value
        .and_then(|value| value.node.into_const())
        .ok_or_else(|| format!("the literal `{text}` is not a constant"))
}
