//! List items answered in one pass: when an item's selection holds only fields read from the
//! object itself (no lists, no account details, no fragments or directives), its answer is built
//! directly instead of through a future per field, and a list of such items without a future
//! per item. A page of a nested list holds thousands of them (Q1 of the benchmark: 2,500 users
//! under 250 profiles).

use std::{borrow::Cow, sync::Arc};

use async_graphql::{
    ContextSelectionSet, OutputType, Positioned, ServerResult, Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection},
    registry::Registry,
    resolver_utils::resolve_list,
};

/// An object some of whose fields are read from the object alone, without the context.
pub trait PlainFields: OutputType {
    /// The value of field `name` when it is one of those, `None` for any other field. It must
    /// be what the field's resolver answers: a field with a guard, arguments or a check of the
    /// caller is not plain (`traversal::list_items_answer_alike_however_they_are_resolved`
    /// compares both ways).
    fn plain_field(&self, name: &str) -> Option<Value>;
}

/// A list item of type `T`, the same type in the schema, answered in one pass when it can be;
/// shared by the edge and the `nodes` list that show it.
#[derive(Debug)]
pub struct Plain<T>(pub Arc<T>);

impl<T> Clone for Plain<T> {
    fn clone(&self) -> Self {
        Plain(self.0.clone())
    }
}

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

/// A list of `T`s, `[T!]!` in the schema, answered in one pass when its items' selection is
/// plain, item by item otherwise.
pub struct PlainList<T>(pub Vec<Plain<T>>);

impl<T: PlainFields> OutputType for PlainList<T> {
    fn type_name() -> Cow<'static, str> {
        Vec::<Plain<T>>::type_name()
    }

    fn qualified_type_name() -> String {
        Vec::<Plain<T>>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Vec::<Plain<T>>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let mut items = Vec::with_capacity(self.0.len());
        // Every item has the same selection: if the first is not plain, none is.
        for item in &self.0 {
            match item.answer(ctx) {
                Some(value) => items.push(value),
                None => return resolve_list(ctx, field, &self.0, Some(self.0.len())).await,
            }
        }
        Ok(Value::List(items))
    }
}
