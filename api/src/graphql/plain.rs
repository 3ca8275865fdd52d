//! List items answered in one pass: when an item's selection holds only fields read from the
//! object itself (no lists, no account details, no fragments or directives), its answer is built
//! directly instead of through a future per field, and a list of such items without a future
//! per item — written straight as JSON when the request's answer is (`json::Splice`). A page of
//! a nested list holds thousands of them (Q1 of the benchmark: 2,500 users under 250 profiles).

use std::{borrow::Cow, sync::Arc};

use async_graphql::{
    ContextSelectionSet, Name, ObjectType, OutputType, Positioned, ScalarType, ServerResult, Value,
    connection::{Connection, ConnectionNameType, DisableNodesField, EdgeNameType},
    indexmap::IndexMap,
    parser::types::{Field, Selection},
    registry::Registry,
};
use chrono::{DateTime, Utc};

use super::{
    connection::{Cursor, ListFields},
    engine,
    id::NodeId,
    json,
};
use crate::store::listing::Listed;

/// The value of a card's field, as a one-pass answer writes it (see `crate::cards`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainValue<'a> {
    /// A global ID.
    Id(NodeId),
    Text(&'a str),
    Time(DateTime<Utc>),
    Null,
}

impl From<NodeId> for PlainValue<'_> {
    fn from(id: NodeId) -> Self {
        PlainValue::Id(id)
    }
}

impl<'a> From<&'a str> for PlainValue<'a> {
    fn from(text: &'a str) -> Self {
        PlainValue::Text(text)
    }
}

impl From<DateTime<Utc>> for PlainValue<'_> {
    fn from(time: DateTime<Utc>) -> Self {
        PlainValue::Time(time)
    }
}

impl<'a, T: Into<PlainValue<'a>>> From<Option<T>> for PlainValue<'a> {
    fn from(value: Option<T>) -> Self {
        value.map_or(PlainValue::Null, Into::into)
    }
}

impl PlainValue<'_> {
    /// The value as async-graphql completes the field's value.
    fn to_value(self) -> Value {
        match self {
            PlainValue::Id(id) => Value::String(id.encode().0),
            PlainValue::Text(text) => Value::String(text.to_owned()),
            PlainValue::Time(time) => time.to_value(),
            PlainValue::Null => Value::Null,
        }
    }

    /// Appends the value as JSON, as `to_value` would be written.
    fn write(self, out: &mut Vec<u8>) {
        match self {
            PlainValue::Id(id) => {
                out.push(b'"');
                id.write_encoded(out);
                out.push(b'"');
            }
            PlainValue::Text(text) => json::write_str(out, text),
            PlainValue::Time(time) => json::write_str(out, &time.to_rfc3339()),
            PlainValue::Null => out.extend_from_slice(b"null"),
        }
    }
}

/// Request data: lists may answer in one pass (`ONE_PASS_ANSWERS`).
pub struct OnePass;

/// A card whose fields a one-pass answer writes (declared in `crate::cards`).
pub trait PlainCard: Clone + Send + Sync + 'static {
    /// The value of field `name`; `None` for a field that is not the card's.
    fn plain(&self, name: &str) -> Option<PlainValue<'_>>;
}

impl<C: PlainCard> PlainCard for Arc<C> {
    fn plain(&self, name: &str) -> Option<PlainValue<'_>> {
        C::plain(self, name)
    }
}

/// An object that lists hold, made from what a list reads of each row (its card), whose card's
/// fields are read from the card alone, without the context: the same values its resolvers
/// answer, since both come from one declaration (`crate::cards`).
pub trait PlainFields: OutputType + Sized {
    type Card: PlainCard;

    /// The object of a listed card.
    fn of_card(card: Self::Card) -> Self;
}

/// The fields a selection asks, by response key, when it holds fields alone (no fragments or
/// directives): of each list item, or of a connection; `__typename` is answered alike for all.
struct PlainSelection<'s> {
    fields: Vec<(&'s Name, PlainField<'s>)>,
}

enum PlainField<'s> {
    TypeName,
    Named(&'s Field),
}

impl<'s> PlainSelection<'s> {
    /// The selection of `ctx` when it holds fields alone, without directives; whether each is
    /// plain is known from the first item.
    fn of(ctx: &'s ContextSelectionSet<'_>) -> Option<Self> {
        ctx.data_opt::<OnePass>()?;
        let items = &engine::selection(ctx).items;
        let mut fields = Vec::with_capacity(items.len());
        for selection in items {
            let Selection::Field(field) = &selection.node else {
                return None;
            };
            let field = &field.node;
            if !field.directives.is_empty() {
                return None;
            }
            let plain = match field.name.node.as_str() {
                "__typename" => PlainField::TypeName,
                _ => PlainField::Named(field),
            };
            fields.push((&field.response_key().node, plain));
        }
        Some(PlainSelection { fields })
    }

    /// The answer for `item`, `None` when a field is not plain.
    fn answer<T: PlainFields>(&self, item: &Plain<T>) -> Option<Value> {
        if !self.plain_for(item) {
            return None;
        }
        let mut object = IndexMap::with_capacity(self.fields.len());
        for (key, field) in &self.fields {
            let value = match field {
                PlainField::TypeName => Value::String(T::type_name().into_owned()),
                PlainField::Named(field) => item.card().plain(&field.name.node)?.to_value(),
            };
            object.insert((*key).clone(), value);
        }
        Some(Value::Object(object))
    }

    /// Whether every field is plain for `item` (and so for every item of its type): checked
    /// before anything is built for it.
    fn plain_for<T: PlainFields>(&self, item: &Plain<T>) -> bool {
        self.fields.iter().all(|(_, field)| match field {
            PlainField::TypeName => true,
            PlainField::Named(field) => item.card().plain(&field.name.node).is_some(),
        })
    }

    /// Appends the answers for `items` as a JSON list; `None` when a field is not plain.
    fn write<T: PlainFields>(&self, out: &mut Vec<u8>, items: &[Plain<T>]) -> Option<()> {
        if items.first().is_some_and(|first| !self.plain_for(first)) {
            return None;
        }
        // Each field's `"key":`, written once.
        let keys: Vec<Vec<u8>> = self
            .fields
            .iter()
            .map(|(key, _)| {
                let mut written = Vec::with_capacity(key.len() + 3);
                json::write_key(&mut written, key);
                written
            })
            .collect();
        out.reserve(items.len() * 64);
        out.push(b'[');
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.push(b'{');
            for (field, ((_, plain), key)) in self.fields.iter().zip(&keys).enumerate() {
                if field > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(key);
                match plain {
                    PlainField::TypeName => json::write_str(out, &T::type_name()),
                    PlainField::Named(field) => {
                        item.card().plain(&field.name.node)?.write(out);
                    }
                }
            }
            out.push(b'}');
        }
        out.push(b']');
        Some(())
    }
}

/// A list item of type `T`, the same type in the schema, answered in one pass when it can be:
/// a row of a page, which the connection's edges and nodes share.
pub struct Plain<T: PlainFields> {
    rows: Arc<Vec<Listed<T::Card>>>,
    index: usize,
}

impl<T: PlainFields> Plain<T> {
    /// Row `index` of `rows`.
    pub fn new(rows: Arc<Vec<Listed<T::Card>>>, index: usize) -> Self {
        Plain { rows, index }
    }

    fn card(&self) -> &T::Card {
        &self.rows[self.index].node
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
        match PlainSelection::of(ctx).and_then(|selection| selection.answer(self)) {
            Some(value) => Ok(value),
            None => T::of_card(self.card().clone()).resolve(ctx, field).await,
        }
    }
}

/// A list of `T`s, `[T!]!` in the schema, answered in one pass when its items' selection is
/// plain, item by item otherwise.
pub struct PlainList<T: PlainFields>(pub Vec<Plain<T>>);

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
        // Every item has the same selection: if the first is not plain, none is.
        if let Some(selection) = PlainSelection::of(ctx) {
            if json::splices(ctx) {
                let mut written = Vec::new();
                if selection.write(&mut written, &self.0).is_some() {
                    return Ok(json::spliced(written));
                }
            } else if let Some(items) = self
                .0
                .iter()
                .map(|item| selection.answer(item))
                .collect::<Option<Vec<_>>>()
            {
                return Ok(Value::List(items));
            }
        }
        engine::resolve_non_null_items(ctx, field, &self.0).await
    }
}

/// The connection of a list of `N`s, answered in one pass when its selection asks for nothing
/// but plain nodes (and `__typename`), as the inner levels of nested lists usually do; as any
/// connection otherwise.
pub struct PlainConnection<N, E, C, EN>(pub Inner<N, E, C, EN>)
where
    N: PlainFields,
    E: ObjectType,
    C: ConnectionNameType,
    EN: EdgeNameType;

type Inner<N, E, C, EN> = Connection<Cursor, Plain<N>, ListFields<N>, E, C, EN, DisableNodesField>;

impl<N, E, C, EN> PlainConnection<N, E, C, EN>
where
    N: PlainFields,
    E: ObjectType,
    C: ConnectionNameType,
    EN: EdgeNameType,
{
    /// The answer as JSON, `None` unless every selected field is `nodes` with a plain
    /// selection, or `__typename`.
    fn write(&self, ctx: &ContextSelectionSet<'_>) -> Option<Vec<u8>> {
        let nodes = &self.0.additional_fields.nodes.0;
        let mut out = Vec::with_capacity(16 + nodes.len() * 64);
        out.push(b'{');
        for (index, (key, field)) in PlainSelection::of(ctx)?.fields.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            json::write_key(&mut out, key);
            match field {
                PlainField::TypeName => {
                    json::write_str(&mut out, &Inner::<N, E, C, EN>::type_name());
                }
                PlainField::Named(field) if field.name.node == "nodes" => {
                    let items = engine::with_selection(ctx, &field.selection_set);
                    PlainSelection::of(&items)?.write(&mut out, nodes)?;
                }
                PlainField::Named(_) => return None,
            }
        }
        out.push(b'}');
        Some(out)
    }
}

impl<N, E, C, EN> OutputType for PlainConnection<N, E, C, EN>
where
    N: PlainFields,
    E: ObjectType,
    C: ConnectionNameType,
    EN: EdgeNameType,
{
    fn type_name() -> Cow<'static, str> {
        Inner::<N, E, C, EN>::type_name()
    }

    fn qualified_type_name() -> String {
        Inner::<N, E, C, EN>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Inner::<N, E, C, EN>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if json::splices(ctx)
            && let Some(written) = self.write(ctx)
        {
            return Ok(json::spliced(written));
        }
        self.0.resolve(ctx, field).await
    }
}
