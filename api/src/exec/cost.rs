//! The cost of an operation: how many nodes it may return, every page full, counted as GitHub
//! counts them — each paginated list (a field that takes `first`) holds its `first` or `last`
//! nodes, or the largest page when it gives neither, for each node above it. It bounds the
//! operations a request may run (`QUERY_MAX_COMPLEXITY`) and weighs requests in admission, so
//! what one request may hold in memory is bounded by what it asks.
//!
//! It is counted on the operation as it runs (`collect::normalize`): fragments spread, fields
//! merged, `@skip`/`@include` decided, variables' values known. Where a value may be one of
//! several objects, it costs what its costliest object does.

use async_graphql::{
    Positioned, Variables,
    parser::types::{Field, Selection, SelectionSet},
};
use async_graphql_value::{ConstValue, Value};

use super::types::{Types, named};

/// The nodes the selections `set` make on a value of type `parent` may return.
pub fn nodes(
    types: &Types,
    parent: &str,
    set: &SelectionSet,
    variables: &Variables,
    page_max: u64,
) -> u64 {
    let mut fields: u64 = 0;
    let mut costliest_object: u64 = 0;
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                fields =
                    fields.saturating_add(field_nodes(types, parent, field, variables, page_max));
            }
            Selection::InlineFragment(fragment) => {
                let object = fragment
                    .node
                    .type_condition
                    .as_ref()
                    .map_or(parent, |condition| condition.node.on.node.as_str());
                let set = &fragment.node.selection_set.node;
                costliest_object =
                    costliest_object.max(nodes(types, object, set, variables, page_max));
            }
            // None are left once the operation is normalized.
            Selection::FragmentSpread(_) => {}
        }
    }
    fields.saturating_add(costliest_object)
}

/// The nodes field `field` of an object of type `parent` may return.
fn field_nodes(
    types: &Types,
    parent: &str,
    field: &Positioned<Field>,
    variables: &Variables,
    page_max: u64,
) -> u64 {
    let name = field.node.name.node.as_str();
    let Some(declared) = types.field_type(parent, name) else {
        // `__typename`, and introspection, whose lists are bounded on their own.
        return 0;
    };
    let below = nodes(
        types,
        named(&declared.ty),
        &field.node.selection_set.node,
        variables,
        page_max,
    );
    let selects_nodes = field.node.selection_set.node.items.iter().any(|selection| {
        matches!(&selection.node, Selection::Field(inner)
            if matches!(inner.node.name.node.as_str(), "nodes" | "edges"))
    });
    if !declared.args.contains_key("first") || !selects_nodes {
        return below;
    }
    let page = ["first", "last"]
        .into_iter()
        .find_map(|argument| size(field.node.get_argument(argument)?, variables))
        .unwrap_or(page_max)
        // A larger page is refused when the list resolves.
        .min(page_max);
    page.saturating_mul(below.saturating_add(1))
}

/// The value of a page size argument, when it is a number (literal or variable).
fn size(value: &Positioned<Value>, variables: &Variables) -> Option<u64> {
    match &value.node {
        Value::Number(number) => number.as_u64(),
        Value::Variable(name) => match variables.get(name)? {
            ConstValue::Number(number) => number.as_u64(),
            _ => None,
        },
        _ => None,
    }
}
