//! What a request's document asks for, read from the parsed document that execution reuses:
//! the operation to run, its name, and the counts the limits bound.

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};

use crate::config::Limits;

/// The facts of the operation a request runs.
pub struct Operation {
    pub name: Option<String>,
    pub mutation: bool,
    aliases: usize,
    root_fields: usize,
}

impl Operation {
    /// The operation `name` selects (or the only one), when the document has it.
    pub fn of(document: &ExecutableDocument, name: Option<&str>) -> Option<Self> {
        let (found, operation) = document
            .operations
            .iter()
            .find(|(found, _)| name.is_none() || found.map(|found| found.as_str()) == name)?;
        let selections = &operation.node.selection_set.node;
        Some(Operation {
            name: found.map(|found| found.to_string()),
            mutation: operation.node.ty == OperationType::Mutation,
            aliases: count(document, selections, &|_, aliased| aliased),
            root_fields: count(document, selections, &|depth, _| depth == 0),
        })
    }

    /// The first limit the operation exceeds, in words.
    pub fn exceeds(&self, limits: &Limits) -> Option<String> {
        if self.aliases > limits.query_max_aliases {
            return Some(format!(
                "the operation has {} aliases; at most {} are allowed",
                self.aliases, limits.query_max_aliases
            ));
        }
        if self.root_fields > limits.query_max_root_fields {
            return Some(format!(
                "the operation has {} root fields; at most {} are allowed",
                self.root_fields, limits.query_max_root_fields
            ));
        }
        None
    }
}

/// Counts the fields of `selections` that `counts` accepts, given their depth below
/// `selections` and whether they carry an alias; a fragment counts at every place it is spread.
/// Stops past `COUNT_CAP`, which is over every limit (fragments spreading fragments could
/// otherwise make the count itself expensive).
fn count(
    document: &ExecutableDocument,
    selections: &SelectionSet,
    counts: &dyn Fn(usize, bool) -> bool,
) -> usize {
    let mut total = 0;
    walk(document, selections, 0, &mut Vec::new(), counts, &mut total);
    total
}

const COUNT_CAP: usize = 100_000;

fn walk(
    document: &ExecutableDocument,
    selections: &SelectionSet,
    depth: usize,
    spreading: &mut Vec<String>,
    counts: &dyn Fn(usize, bool) -> bool,
    total: &mut usize,
) {
    for selection in &selections.items {
        if *total > COUNT_CAP {
            return;
        }
        match &selection.node {
            Selection::Field(field) => {
                *total += usize::from(counts(depth, field.node.alias.is_some()));
                walk(
                    document,
                    &field.node.selection_set.node,
                    depth + 1,
                    spreading,
                    counts,
                    total,
                );
            }
            Selection::InlineFragment(fragment) => {
                walk(
                    document,
                    &fragment.node.selection_set.node,
                    depth,
                    spreading,
                    counts,
                    total,
                );
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.to_string();
                // A fragment inside itself is a cycle, which validation refuses: stop there.
                if spreading.contains(&name) {
                    continue;
                }
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    spreading.push(name);
                    walk(
                        document,
                        &fragment.node.selection_set.node,
                        depth,
                        spreading,
                        counts,
                        total,
                    );
                    spreading.pop();
                }
            }
        }
    }
}
