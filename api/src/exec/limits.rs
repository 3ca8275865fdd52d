//! What an operation asks for, counted before anything else runs: the counts the limits
//! bound, and how many list items it may return.

use std::collections::HashMap;

use async_graphql::{
    Positioned, Value, Variables,
    parser::types::{
        ExecutableDocument, Field, OperationDefinition, OperationType, Selection, SelectionSet,
    },
};

use crate::config::Limits;

/// The facts of the operation a request runs.
pub struct Operation {
    pub kind: OperationType,
    /// How many list items the operation may return at most, its pages filled: what its
    /// execution may hold in memory.
    pub items: u64,
    tally: Tally,
}

/// What the limits bound, counted over the selected operation with every fragment spread in
/// place.
#[derive(Default)]
struct Tally {
    fields: usize,
    aliases: usize,
    root_fields: usize,
    /// The deepest field outside introspection, the root fields being 1 deep.
    depth: usize,
    /// The deepest nesting of `fields`, `interfaces`, `possibleTypes` and `inputFields` inside
    /// introspection, which may cycle through the schema without growing much deeper.
    introspection_lists: usize,
}

/// Introspection lists nested this deep are refused, as graphql-js's
/// `MaxIntrospectionDepthRule` does: no client's introspection query needs it.
const INTROSPECTION_MAX_LISTS: usize = 3;

/// The size of a list that gives neither `first` nor `last` (the default `PAGE_MAX_SIZE`).
const UNSIZED_LIST_ITEMS: u64 = 100;

/// Counting stops past this many fields, and the operation is refused: fragments that spread
/// fragments several times each select exponentially many fields in a short document, which
/// neither this count nor the engine's validation may expand.
const COUNT_CAP: usize = 100_000;

impl Operation {
    /// The facts of `operation` of `document`.
    pub fn of(
        document: &ExecutableDocument,
        operation: &Positioned<OperationDefinition>,
        variables: &Variables,
    ) -> Self {
        let mut walk = Walk {
            document,
            variables,
            spreading: Vec::new(),
            tally: Tally::default(),
        };
        let items = walk.selections(&operation.node.selection_set.node, Place::default());
        Operation {
            kind: operation.node.ty,
            items,
            tally: walk.tally,
        }
    }

    /// The first limit the operation exceeds, in words. Depth does not count inside
    /// introspection (GraphiQL's introspection query is 15 deep), which is bounded by the
    /// nesting of its lists instead.
    pub fn exceeds(&self, limits: &Limits) -> Option<String> {
        let tally = &self.tally;
        if tally.depth > limits.query_max_depth {
            return Some(format!(
                "the operation is nested {} fields deep; at most {} are allowed",
                tally.depth, limits.query_max_depth
            ));
        }
        if tally.introspection_lists >= INTROSPECTION_MAX_LISTS {
            return Some(format!(
                "the introspection nests `fields`, `interfaces`, `possibleTypes` or \
                 `inputFields` {} deep; at most {} are allowed",
                tally.introspection_lists,
                INTROSPECTION_MAX_LISTS - 1
            ));
        }
        if tally.aliases > limits.query_max_aliases {
            return Some(format!(
                "the operation has {} aliases; at most {} are allowed",
                tally.aliases, limits.query_max_aliases
            ));
        }
        if tally.root_fields > limits.query_max_root_fields {
            return Some(format!(
                "the operation has {} root fields; at most {} are allowed",
                tally.root_fields, limits.query_max_root_fields
            ));
        }
        None
    }
}

/// Why `document` is refused before anything else looks at it: some operation or fragment of
/// it, fragments spread in place, selects more than `COUNT_CAP` fields (directives aside: an
/// upper bound). Validation visits every operation and fragment, used or not, and follows
/// spreads. Each fragment is counted once and its count reused wherever it is spread, so this
/// costs time linear in the document's size however far its spreads multiply.
pub fn explodes(document: &ExecutableDocument) -> Option<String> {
    let mut counts = HashMap::<&str, u64>::new();
    let fragments = &document.fragments;
    // Fragments in an order where each comes after those it spreads (a spread that closes a
    // cycle counts nothing here; validation refuses the cycle).
    let mut state = HashMap::<&str, bool>::new(); // false: being counted; true: counted
    for root in fragments.keys() {
        let mut stack = vec![(root.as_str(), false)];
        while let Some((name, expanded)) = stack.pop() {
            if expanded {
                let own = fragments.get(name).map(|f| &f.node.selection_set.node);
                let count = own.map_or(0, |set| count_fields(set, &counts));
                counts.insert(name, count);
                state.insert(name, true);
                continue;
            }
            if state.contains_key(name) || !fragments.contains_key(name) {
                continue;
            }
            state.insert(name, false);
            stack.push((name, true));
            let set = &fragments[name].node.selection_set.node;
            for spread in spreads(set) {
                if !state.contains_key(spread) {
                    stack.push((spread, false));
                }
            }
        }
    }
    let cap = u64::try_from(COUNT_CAP).unwrap_or(u64::MAX);
    let operations = document.operations.iter().map(|(_, operation)| operation);
    let refused = operations
        .map(|operation| count_fields(&operation.node.selection_set.node, &counts))
        .chain(counts.values().copied())
        .any(|count| count > cap);
    refused.then(|| {
        format!("the document selects more than {COUNT_CAP} fields once its fragments are spread")
    })
}

/// The fields `set` selects, the fragments it spreads counted as `counts` says (those not
/// counted yet count nothing).
fn count_fields(set: &SelectionSet, counts: &HashMap<&str, u64>) -> u64 {
    set.items.iter().fold(0u64, |total, selection| {
        let count = match &selection.node {
            Selection::Field(field) => {
                1u64.saturating_add(count_fields(&field.node.selection_set.node, counts))
            }
            Selection::InlineFragment(inline) => {
                count_fields(&inline.node.selection_set.node, counts)
            }
            Selection::FragmentSpread(spread) => counts
                .get(spread.node.fragment_name.node.as_str())
                .copied()
                .unwrap_or(0),
        };
        total.saturating_add(count)
    })
}

/// The names of the fragments `set` spreads, at any depth of its own selections.
fn spreads(set: &SelectionSet) -> Vec<&str> {
    let mut names = Vec::new();
    let mut sets = vec![set];
    while let Some(set) = sets.pop() {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => sets.push(&field.node.selection_set.node),
                Selection::InlineFragment(inline) => sets.push(&inline.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    names.push(spread.node.fragment_name.node.as_str());
                }
            }
        }
    }
    names
}

/// Where a selection set sits.
#[derive(Clone, Copy, Default)]
struct Place {
    /// Fields above it, outside introspection.
    depth: usize,
    /// Inside `__schema` or `__type`.
    introspection: bool,
    /// Introspection lists above it.
    introspection_lists: usize,
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    /// The fragments being spread, innermost last.
    spreading: Vec<&'a str>,
    tally: Tally,
}

impl<'a> Walk<'a> {
    /// Tallies `selections` and returns how many list items they may return.
    fn selections(&mut self, selections: &'a SelectionSet, place: Place) -> u64 {
        let mut items: u64 = 0;
        for selection in &selections.items {
            if self.tally.fields > COUNT_CAP {
                return items;
            }
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let tally = &mut self.tally;
                    tally.fields += 1;
                    tally.aliases += usize::from(field.alias.is_some());
                    tally.root_fields += usize::from(place.depth == 0 && !place.introspection);
                    let introspection =
                        place.introspection || matches!(name, "__schema" | "__type");
                    let mut inner = Place {
                        introspection,
                        ..place
                    };
                    if introspection {
                        let list = matches!(
                            name,
                            "fields" | "interfaces" | "possibleTypes" | "inputFields"
                        );
                        inner.introspection_lists += usize::from(list);
                        tally.introspection_lists =
                            tally.introspection_lists.max(inner.introspection_lists);
                    } else {
                        inner.depth += 1;
                        tally.depth = tally.depth.max(inner.depth);
                    }
                    let below = self.selections(&field.selection_set.node, inner);
                    let here = match self.list_size(field) {
                        Some(size) => size.saturating_mul(below.saturating_add(1)),
                        None => below,
                    };
                    items = items.saturating_add(here);
                }
                Selection::InlineFragment(fragment) => {
                    let below = self.selections(&fragment.node.selection_set.node, place);
                    items = items.saturating_add(below);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    // A fragment inside itself is a cycle, which validation refuses: stop there.
                    if self.spreading.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) =
                        self.document.fragments.get(&spread.node.fragment_name.node)
                    {
                        self.spreading.push(name);
                        let below = self.selections(&fragment.node.selection_set.node, place);
                        items = items.saturating_add(below);
                        self.spreading.pop();
                    }
                }
            }
        }
        items
    }

    /// The page size of `field` when it is a connection (it selects `nodes` or `edges`):
    /// its `first` or `last`, literal or variable, else the default page size.
    fn list_size(&self, field: &Field) -> Option<u64> {
        let connection = field.selection_set.node.items.iter().any(|selection| {
            matches!(&selection.node, Selection::Field(inner)
                if matches!(inner.node.name.node.as_str(), "nodes" | "edges"))
        });
        if !connection {
            return None;
        }
        let size = ["first", "last"].into_iter().find_map(|name| {
            let value = field.get_argument(name)?.node.clone();
            let value = value
                .into_const_with(|variable| self.variables.get(&variable).cloned().ok_or(()))
                .ok()?;
            match value {
                Value::Number(number) => number.as_u64(),
                _ => None,
            }
        });
        Some(size.unwrap_or(UNSIZED_LIST_ITEMS))
    }
}
