//! What a request's document asks for, read from the parsed document that execution reuses:
//! the operation to run, its name, and the counts the limits bound.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

use async_graphql::{
    Request, ServerError, Value, Variables,
    parser::types::{ExecutableDocument, Field, OperationType, Selection, SelectionSet},
};
use lru::LruCache;

use crate::config::Limits;

/// Documents parsed lately, by their text: clients send the same few documents again and again,
/// and parsing one costs more than executing a small query.
#[derive(Clone)]
pub struct Documents(Arc<Mutex<LruCache<String, Arc<ExecutableDocument>>>>);

/// How many parsed documents are kept.
const DOCUMENTS_KEPT: usize = 128;
/// Longer documents are parsed every time, so the cache stays a few megabytes at most.
const DOCUMENT_KEPT_MAX_BYTES: usize = 4 * 1024;

impl Default for Documents {
    fn default() -> Self {
        let kept = NonZeroUsize::new(DOCUMENTS_KEPT).unwrap_or(NonZeroUsize::MIN);
        Documents(Arc::new(Mutex::new(LruCache::new(kept))))
    }
}

impl Documents {
    /// The parsed document of `request`, from the cache when its text was parsed lately.
    pub fn parse<'r>(
        &self,
        request: &'r mut Request,
    ) -> Result<&'r ExecutableDocument, ServerError> {
        if request.query.len() <= DOCUMENT_KEPT_MAX_BYTES {
            let kept = self
                .0
                .lock()
                .ok()
                .and_then(|mut kept| kept.get(&request.query).cloned());
            match kept {
                Some(document) => request.set_parsed_query(ExecutableDocument::clone(&document)),
                None => {
                    let document = Arc::new(request.parsed_query()?.clone());
                    if let Ok(mut kept) = self.0.lock() {
                        kept.put(request.query.clone(), document);
                    }
                }
            }
        }
        request.parsed_query()
    }
}

/// The facts of the operation a request runs.
pub struct Operation {
    pub name: Option<String>,
    pub mutation: bool,
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

/// Counting stops past this many fields, which is over every limit (fragments spreading
/// fragments could otherwise make the count itself expensive).
const COUNT_CAP: usize = 100_000;

impl Operation {
    /// The operation `name` selects (or the only one), when the document has it.
    pub fn of(
        document: &ExecutableDocument,
        name: Option<&str>,
        variables: &Variables,
    ) -> Option<Self> {
        let (found, operation) = document
            .operations
            .iter()
            .find(|(found, _)| name.is_none() || found.map(|found| found.as_str()) == name)?;
        let mut walk = Walk {
            document,
            variables,
            spreading: Vec::new(),
            tally: Tally::default(),
        };
        let items = walk.selections(&operation.node.selection_set.node, Place::default());
        Some(Operation {
            name: found.map(|found| found.to_string()),
            mutation: operation.node.ty == OperationType::Mutation,
            items,
            tally: walk.tally,
        })
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

#[cfg(test)]
mod tests {
    use async_graphql::Request;

    use super::{DOCUMENT_KEPT_MAX_BYTES, Documents};

    fn kept(documents: &Documents) -> usize {
        documents.0.lock().map_or(0, |kept| kept.len())
    }

    #[test]
    fn documents_are_parsed_once_by_text_and_refusals_are_not_kept() {
        let documents = Documents::default();
        let text = "query Two { me { email } profiles { totalCount } }";
        let first = documents
            .parse(&mut Request::new(text))
            .map(|document| format!("{document:?}"));
        let again = documents
            .parse(&mut Request::new(text))
            .map(|document| format!("{document:?}"));
        assert!(first.is_ok());
        assert_eq!(first, again);
        assert_eq!(kept(&documents), 1);

        assert!(documents.parse(&mut Request::new("{ me { ")).is_err());
        assert!(documents.parse(&mut Request::new("{ me { ")).is_err());
        let long = format!(
            "{{ me {{ email }} }} # {}",
            "x".repeat(DOCUMENT_KEPT_MAX_BYTES)
        );
        assert!(documents.parse(&mut Request::new(long)).is_ok());
        assert_eq!(
            kept(&documents),
            1,
            "only the short, valid document is kept"
        );
    }
}
