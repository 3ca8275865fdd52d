//! What an operation asks for, counted before anything else runs: the counts the limits
//! bound.

use std::collections::HashMap;

use async_graphql::{
    Positioned,
    parser::types::{
        ExecutableDocument, OperationDefinition, OperationType, Selection, SelectionSet,
    },
};

use crate::config::Limits;

/// The facts of the operation a request runs.
pub struct Operation {
    pub kind: OperationType,
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

/// Counting stops past this many fields, and the operation is refused: fragments that spread
/// fragments several times each select exponentially many fields in a short document, which
/// neither this count nor the engine's validation may expand.
const COUNT_CAP: usize = 100_000;

impl Operation {
    /// The facts of `operation` of `document`.
    pub fn of(document: &ExecutableDocument, operation: &Positioned<OperationDefinition>) -> Self {
        let mut walk = Walk {
            document,
            spreading: Vec::new(),
            tally: Tally::default(),
        };
        walk.selections(&operation.node.selection_set.node, Place::default());
        Operation {
            kind: operation.node.ty,
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
    /// The fragments being spread, innermost last.
    spreading: Vec<&'a str>,
    tally: Tally,
}

impl<'a> Walk<'a> {
    /// Tallies `selections`.
    fn selections(&mut self, selections: &'a SelectionSet, place: Place) {
        for selection in &selections.items {
            if self.tally.fields > COUNT_CAP {
                return;
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
                    self.selections(&field.selection_set.node, inner);
                }
                Selection::InlineFragment(fragment) => {
                    self.selections(&fragment.node.selection_set.node, place);
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
                        self.selections(&fragment.node.selection_set.node, place);
                        self.spreading.pop();
                    }
                }
            }
        }
    }
}
