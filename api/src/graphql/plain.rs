//! List items answered in one pass: when an item's selection holds only fields read from the
//! object itself (no lists, no account details, no fragments or directives), its answer is built
//! directly instead of through a future per field. A page of a nested list holds thousands of
//! such items (Q1 of the benchmark: 5,000 users under 500 profiles).

use std::borrow::Cow;

use async_graphql::{
    ContextSelectionSet, OutputType, Positioned, ServerResult, Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection},
    registry::Registry,
};

/// An object some of whose fields are read from the object alone, without the context.
pub trait PlainFields: OutputType {
    /// The value of field `name` when it is one of those, `None` for any other field.
    fn plain_field(&self, name: &str) -> Option<Value>;
}

/// A list item of type `T`, the same type in the schema, answered in one pass when it can be.
#[derive(Clone, Debug)]
pub struct Plain<T>(pub T);

impl<T: PlainFields> Plain<T> {
    /// The answer for `ctx`'s selection when every selected field is plain.
    fn answer(&self, ctx: &ContextSelectionSet<'_>) -> Option<Value> {
        let items = &ctx.item.node.items;
        let mut object = IndexMap::with_capacity(items.len());
        for selection in items {
            let Selection::Field(field) = &selection.node else {
                return None;
            };
            let field = &field.node;
            if !field.directives.is_empty() {
                return None;
            }
            let value = match field.name.node.as_str() {
                "__typename" => Value::String(self.0.introspection_type_name().into_owned()),
                name => self.0.plain_field(name)?,
            };
            object.insert(field.response_key().node.clone(), value);
        }
        Some(Value::Object(object))
    }
}

impl<T: PlainFields> OutputType for Plain<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        match self.answer(ctx) {
            Some(value) => Ok(value),
            None => self.0.resolve(ctx, field).await,
        }
    }
}
