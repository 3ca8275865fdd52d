//! The operation as the specification executes it: every selection set's fields collected and
//! merged by response key (CollectFields, MergeSelectionSets), `@skip` and `@include` decided,
//! fragments spread in place. The result is the operation execution runs — each object's
//! fields once, in the order of the response, without fragments or directives — so neither
//! the engine nor the one-pass writer has any merging or ordering left to get wrong.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, Pos, Positioned, Variables,
    indexmap::IndexMap,
    parser::types::{
        Directive, DocumentOperations, ExecutableDocument, Field, InlineFragment,
        OperationDefinition, Selection, SelectionSet, TypeCondition,
    },
};

use async_graphql_value::{ConstValue, Value};

use super::types::{Named, Types, named};

/// Most fields an operation may select once its fragments are spread and its fields merged:
/// far over what a client asks, and far under what would take long to build.
pub const FIELDS_MAX: usize = 10_000;

/// Why an operation cannot run.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A document that validation should have refused: two fields of one response key that
    /// cannot be merged, an argument of `__typename`, a `@skip` or `@include` whose `if` is
    /// null.
    Invalid { message: String, at: Vec<Pos> },
    /// The merged operation is larger than `FIELDS_MAX`.
    TooLarge,
}

/// The document that runs `operation` of `document` with `variables` (already coerced), whose
/// root type is `root`.
pub fn normalize(
    types: &Types,
    document: &ExecutableDocument,
    operation: &Positioned<OperationDefinition>,
    root: &str,
    variables: &Variables,
) -> Result<ExecutableDocument, Refusal> {
    let mut collect = Collect {
        types,
        document,
        variables,
        fields: 0,
    };
    let selection_set = collect.selection_set(root, &[&operation.node.selection_set])?;
    let operation = Positioned::new(
        OperationDefinition {
            ty: operation.node.ty,
            variable_definitions: operation.node.variable_definitions.clone(),
            directives: Vec::new(),
            selection_set,
        },
        operation.pos,
    );
    Ok(ExecutableDocument {
        operations: DocumentOperations::Single(operation),
        fragments: HashMap::new(),
    })
}

struct Collect<'d> {
    types: &'d Types,
    document: &'d ExecutableDocument,
    variables: &'d Variables,
    /// Fields written so far.
    fields: usize,
}

/// The fields of one response key, in the order they were collected.
type Groups<'d> = IndexMap<&'d str, Vec<&'d Positioned<Field>>>;

impl<'d> Collect<'d> {
    /// The merged selection set of `sets` (the sub-selections of the fields of one response
    /// key) on a value of type `parent`: the fields themselves when it is an object, an inline
    /// fragment per object it may be otherwise.
    fn selection_set(
        &mut self,
        parent: &str,
        sets: &[&'d Positioned<SelectionSet>],
    ) -> Result<Positioned<SelectionSet>, Refusal> {
        let pos = sets.first().map_or_else(Pos::default, |set| set.pos);
        let items = match self.types.get(parent) {
            Some(Named::Abstract { possible, .. }) => {
                let mut items = Vec::with_capacity(possible.len());
                for object in possible {
                    let fields = self.object(object, sets)?;
                    if fields.is_empty() {
                        continue;
                    }
                    let fragment = InlineFragment {
                        type_condition: Some(Positioned::new(
                            TypeCondition {
                                on: Positioned::new(Name::new(object), pos),
                            },
                            pos,
                        )),
                        directives: Vec::new(),
                        selection_set: Positioned::new(SelectionSet { items: fields }, pos),
                    };
                    items.push(Positioned::new(
                        Selection::InlineFragment(Positioned::new(fragment, pos)),
                        pos,
                    ));
                }
                items
            }
            _ => self.object(parent, sets)?,
        };
        Ok(Positioned::new(SelectionSet { items }, pos))
    }

    /// The fields `sets` select on an object of type `object`, merged by response key.
    fn object(
        &mut self,
        object: &str,
        sets: &[&'d Positioned<SelectionSet>],
    ) -> Result<Vec<Positioned<Selection>>, Refusal> {
        let mut groups = Groups::new();
        let mut visited = HashSet::new();
        for set in sets {
            self.collect(object, set, &mut groups, &mut visited)?;
        }
        let mut fields = Vec::with_capacity(groups.len());
        for (key, group) in groups {
            let first = group[0];
            for other in &group[1..] {
                conflict(key, first, other)?;
            }
            self.fields += 1;
            if self.fields > FIELDS_MAX {
                return Err(Refusal::TooLarge);
            }
            let name = first.node.name.node.as_str();
            if name == "__typename"
                && let Some((argument, _)) = first.node.arguments.first()
            {
                return Err(Refusal::Invalid {
                    message: format!(
                        "Unknown argument \"{}\" on field \"__typename\".",
                        argument.node
                    ),
                    at: vec![argument.pos],
                });
            }
            let sub_sets: Vec<_> = group
                .iter()
                .map(|field| &field.node.selection_set)
                .collect();
            let selection_set = match self.output_type(object, name) {
                Some(output) if !sub_sets.iter().all(|set| set.node.items.is_empty()) => {
                    self.selection_set(output, &sub_sets)?
                }
                _ => Positioned::new(SelectionSet::default(), first.node.selection_set.pos),
            };
            let field = Field {
                alias: first.node.alias.clone(),
                name: first.node.name.clone(),
                arguments: first.node.arguments.clone(),
                directives: Vec::new(),
                selection_set,
            };
            fields.push(Positioned::new(
                Selection::Field(Positioned::new(field, first.pos)),
                first.pos,
            ));
        }
        Ok(fields)
    }

    /// The named type field `name` of `object` returns; `None` for leaves' own fields.
    fn output_type(&self, object: &str, name: &str) -> Option<&'d str> {
        match name {
            "__schema" => Some("__Schema"),
            "__type" => Some("__Type"),
            _ => self.types.field(object, name).map(named),
        }
    }

    /// CollectFields: appends the fields `set` selects on an object of type `object` to
    /// `groups`, spreading each fragment once (`visited`).
    fn collect(
        &self,
        object: &str,
        set: &'d Positioned<SelectionSet>,
        groups: &mut Groups<'d>,
        visited: &mut HashSet<&'d str>,
    ) -> Result<(), Refusal> {
        for selection in &set.node.items {
            if !self.included(selection.node.directives())? {
                continue;
            }
            match &selection.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.as_str();
                    groups.entry(key).or_default().push(field);
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if !visited.insert(name.as_str()) {
                        continue;
                    }
                    let Some(fragment) = self.document.fragments.get(name) else {
                        continue;
                    };
                    if !self
                        .types
                        .applies(object, &fragment.node.type_condition.node.on.node)
                    {
                        continue;
                    }
                    self.collect(object, &fragment.node.selection_set, groups, visited)?;
                }
                Selection::InlineFragment(fragment) => {
                    if let Some(condition) = &fragment.node.type_condition
                        && !self.types.applies(object, &condition.node.on.node)
                    {
                        continue;
                    }
                    self.collect(object, &fragment.node.selection_set, groups, visited)?;
                }
            }
        }
        Ok(())
    }

    /// Whether a selection with `directives` is included: not `@skip(if: true)`, not
    /// `@include(if: false)`.
    fn included(&self, directives: &[Positioned<Directive>]) -> Result<bool, Refusal> {
        for directive in directives {
            let include = match directive.node.name.node.as_str() {
                "skip" => false,
                "include" => true,
                _ => continue,
            };
            let value = match directive.node.get_argument("if").map(|value| &value.node) {
                Some(Value::Variable(name)) => self.variables.get(name).cloned(),
                Some(Value::Boolean(value)) => Some(ConstValue::Boolean(*value)),
                _ => None,
            };
            let Some(ConstValue::Boolean(value)) = value else {
                return Err(Refusal::Invalid {
                    message: format!(
                        "the argument `if` of @{} must be a boolean",
                        directive.node.name.node
                    ),
                    at: vec![directive.pos],
                });
            };
            if value != include {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Refuses two fields of response key `key` on one object that are not the same field with
/// the same arguments.
fn conflict(
    key: &str,
    first: &Positioned<Field>,
    other: &Positioned<Field>,
) -> Result<(), Refusal> {
    let (a, b) = (&first.node, &other.node);
    let reason = if a.name.node != b.name.node {
        format!(
            "\"{}\" and \"{}\" are different fields",
            a.name.node, b.name.node
        )
    } else if a.arguments.len() != b.arguments.len()
        || a.arguments.iter().any(|(name, value)| {
            b.get_argument(&name.node).map(|other| &other.node) != Some(&value.node)
        })
    {
        "they have differing arguments".to_owned()
    } else {
        return Ok(());
    };
    Err(Refusal::Invalid {
        message: format!(
            "Fields \"{key}\" conflict because {reason}. Use different aliases on the fields to \
             fetch both if this was intentional."
        ),
        at: vec![first.pos, other.pos],
    })
}

#[cfg(test)]
mod tests {
    use async_graphql::{Variables, parser::types::Selection};
    use serde_json::json;

    use super::{FIELDS_MAX, Refusal, normalize};
    use crate::exec::{document::operation, types::Types};

    /// The operation of `text` as it runs, written back as a compact document.
    async fn normalized(text: &str, variables: serde_json::Value) -> Result<String, Refusal> {
        let types = Types::of_schema().await.expect("the schema's types");
        let document = async_graphql::parser::parse_query(text).expect("parses");
        let (_, op) = operation(&document, None).expect("one operation");
        let root = types.root(op.node.ty).to_owned();
        let variables = Variables::from_json(variables);
        let normalized = normalize(&types, &document, op, &root, &variables)?;
        assert!(normalized.fragments.is_empty());
        let (_, op) = operation(&normalized, None).expect("one operation");
        Ok(write(&op.node.selection_set.node.items))
    }

    fn write(items: &[async_graphql::Positioned<Selection>]) -> String {
        let written: Vec<String> = items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    assert!(field.directives.is_empty());
                    let mut text = match &field.alias {
                        Some(alias) => format!("{}:{}", alias.node, field.name.node),
                        None => field.name.node.to_string(),
                    };
                    if !field.arguments.is_empty() {
                        let arguments: Vec<String> = field
                            .arguments
                            .iter()
                            .map(|(name, value)| format!("{}:{}", name.node, value.node))
                            .collect();
                        text += &format!("({})", arguments.join(","));
                    }
                    if !field.selection_set.node.items.is_empty() {
                        text += &format!("{{{}}}", write(&field.selection_set.node.items));
                    }
                    text
                }
                Selection::InlineFragment(fragment) => {
                    let on = fragment.node.type_condition.as_ref().expect("a type");
                    let items = &fragment.node.selection_set.node.items;
                    format!("...{}{{{}}}", on.node.on.node, write(items))
                }
                Selection::FragmentSpread(_) => panic!("a spread is left"),
            })
            .collect();
        written.join(" ")
    }

    #[tokio::test]
    async fn fields_of_one_response_key_merge_in_the_order_first_seen() {
        let text = "{ me { ...A id ...B } } \
                    fragment A on User { email profiles(first: 2) { nodes { id } } } \
                    fragment B on User { id createdAt profiles(first: 2) { nodes { name } totalCount } }";
        assert_eq!(
            normalized(text, json!({})).await,
            Ok("me{email profiles(first:2){nodes{id name} totalCount} id createdAt}".to_owned())
        );
        assert_eq!(
            normalized("{ users { nodes { id id } nodes { email } } }", json!({})).await,
            Ok("users{nodes{id email}}".to_owned())
        );
    }

    #[tokio::test]
    async fn skip_and_include_decide_with_variables_or_literals() {
        let text = "query($yes: Boolean!, $no: Boolean!) { me { \
                    a: id @skip(if: $yes) b: id @include(if: $yes) c: id @skip(if: false) \
                    d: id @skip(if: $no) @include(if: $no) ... @include(if: $no) { e: id } \
                    ...F @skip(if: $yes) ...F } } fragment F on User { f: id }";
        assert_eq!(
            normalized(text, json!({ "yes": true, "no": false })).await,
            Ok("me{b:id c:id f:id}".to_owned())
        );
        // Everything under an object skipped: the object stays, empty.
        let text = "query($v: Boolean!) { me { id @skip(if: $v) } }";
        assert_eq!(
            normalized(text, json!({ "v": true })).await,
            Ok("me".to_owned())
        );
    }

    #[tokio::test]
    async fn an_abstract_type_gets_the_fields_of_each_object_it_may_be() {
        let text = "{ node(id: \"x\") { id ... on User { email } ... on Node { __typename } \
                    ... on Profile { name } } }";
        assert_eq!(
            normalized(text, json!({})).await,
            Ok(
                "node(id:\"x\"){...User{id email __typename} ...Profile{id __typename name} \
                 ...ProfileInvitation{id __typename}}"
                    .to_owned()
            )
        );
        // A fragment on another object leaves nothing for this one.
        let text = "{ me { ... on Profile { name } } }";
        assert_eq!(normalized(text, json!({})).await, Ok("me".to_owned()));
    }

    #[tokio::test]
    async fn fields_that_cannot_merge_are_refused() {
        for text in [
            "{ me { a: id a: email } }",
            "{ a: me { x: id } a: me { x: email } }",
            "{ me { profiles(first: 1) { totalCount } profiles(first: 2) { totalCount } } }",
            "{ node(id: \"x\") { ... on Node { a: id } ... on User { a: email } } }",
            "{ __typename(x: 1) }",
        ] {
            assert!(
                matches!(
                    normalized(text, json!({})).await,
                    Err(Refusal::Invalid { .. })
                ),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn operations_past_the_field_limit_are_refused_without_being_built() {
        // Every level doubles what the one above selects; merging leaves 2 × 2^levels fields.
        let levels = 14;
        let mut text = String::from("{ me { ...F0 } }");
        for level in 0..levels {
            text += &format!(
                " fragment F{level} on User {{ profiles {{ nodes {{ users {{ nodes {{ ...F{} }} }} }} }} \
                 p2: profiles {{ nodes {{ users {{ nodes {{ ...F{} }} }} }} }} }}",
                level + 1,
                level + 1
            );
        }
        text += &format!(" fragment F{levels} on User {{ id }}");
        assert!(2usize.pow(levels) > FIELDS_MAX);
        assert_eq!(normalized(&text, json!({})).await, Err(Refusal::TooLarge));
    }
}
