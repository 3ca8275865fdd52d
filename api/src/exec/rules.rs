//! Validation rules that async-graphql's validator applies only in part, checked once per
//! document beside it: fields of one response key that cannot merge, wherever they come from
//! (the specification's OverlappingFieldsCanBeMerged, across fragments and parent fields, and
//! whatever their directives say), and literal values of the schema's own scalars (a
//! `DateTime` written in the document must be one).

use std::collections::HashSet;

use async_graphql::{
    Pos, Positioned, ServerError,
    indexmap::IndexMap,
    parser::types::{
        BaseType, ExecutableDocument, Field, OperationType, Selection, SelectionSet, Type,
    },
};
use async_graphql_value::Value;

use super::{
    types::{Named, Types, named},
    variables, with_code,
};

/// Most comparisons of fields one document may take to check: beyond, it is refused.
const BUDGET: usize = 50_000;

/// The errors of `document` by these rules, each with its code.
pub fn check(types: &Types, document: &ExecutableDocument) -> Vec<ServerError> {
    let mut rules = Rules {
        types,
        document,
        budget: BUDGET,
        errors: Vec::new(),
        reported: HashSet::new(),
    };
    for (_, operation) in document.operations.iter() {
        let root = types.root(operation.node.ty);
        if operation.node.ty == OperationType::Subscription && root.is_empty() {
            continue;
        }
        for definition in &operation.node.variable_definitions {
            if let Some(default) = &definition.node.default_value {
                let value = default.node.clone().into_value();
                rules.literal(&value, &definition.node.var_type.node, default.pos);
            }
        }
        rules.visit(root, &operation.node.selection_set.node);
    }
    // Fragments in the order of the document, so errors come in one order every time.
    let mut fragments: Vec<_> = document.fragments.values().collect();
    fragments.sort_by_key(|fragment| (fragment.pos.line, fragment.pos.column));
    for fragment in fragments {
        let on = fragment.node.type_condition.node.on.node.as_str();
        rules.visit(on, &fragment.node.selection_set.node);
    }
    if rules.budget == 0 {
        let message = "the document's fields take too long to check against each other";
        return vec![with_code(ServerError::new(message, None), "LIMIT_EXCEEDED")];
    }
    rules.errors
}

/// The fields of one response key, each with the type it is selected on.
type Collected<'d> = IndexMap<&'d str, Vec<(&'d str, &'d Positioned<Field>)>>;

struct Rules<'d> {
    types: &'d Types,
    document: &'d ExecutableDocument,
    /// Comparisons left.
    budget: usize,
    errors: Vec<ServerError>,
    /// The conflicts reported, by their places.
    reported: HashSet<Vec<(usize, usize)>>,
}

impl<'d> Rules<'d> {
    /// Checks selection set `set` on `parent`, and every selection set inside it.
    fn visit(&mut self, parent: &'d str, set: &'d SelectionSet) {
        if self.budget == 0 {
            return;
        }
        let fields = self.collect(&[(parent, set)]);
        self.can_merge(&fields);
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field_type = self.types.field_type(parent, &field.node.name.node);
                    if let Some(field_type) = field_type {
                        for (name, value) in &field.node.arguments {
                            if let Some(ty) = field_type.args.get(name.node.as_str()) {
                                self.literal(&value.node, ty, value.pos);
                            }
                        }
                    }
                    if let Some(output) = self.output(parent, &field.node.name.node) {
                        self.visit(output, &field.node.selection_set.node);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let on = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(parent, |condition| condition.node.on.node.as_str());
                    self.visit(on, &fragment.node.selection_set.node);
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }

    /// The named type field `name` of `parent` returns, when it has fields of its own.
    fn output(&self, parent: &str, name: &str) -> Option<&'d str> {
        let output = match name {
            "__schema" => "__Schema",
            "__type" => "__Type",
            _ => named(self.types.field(parent, name)?),
        };
        match self.types.get(output)? {
            Named::Object { .. } | Named::Abstract { .. } => Some(output),
            _ => None,
        }
    }

    /// The type of field `field` on `parent`, `__typename` included.
    fn field_type(&self, parent: &str, field: &Field) -> Option<Type> {
        match field.name.node.as_str() {
            "__typename" => Type::new("String!"),
            "__schema" => Type::new("__Schema!"),
            "__type" => Type::new("__Type"),
            name => self.types.field(parent, name).cloned(),
        }
    }

    /// The fields of `sets` by response key, fragments spread once each, whatever their
    /// directives and whether their type applies.
    fn collect(&mut self, sets: &[(&'d str, &'d SelectionSet)]) -> Collected<'d> {
        let mut fields = Collected::new();
        let mut spread = HashSet::new();
        for (parent, set) in sets {
            self.collect_into(parent, set, &mut fields, &mut spread);
        }
        fields
    }

    fn collect_into(
        &mut self,
        parent: &'d str,
        set: &'d SelectionSet,
        fields: &mut Collected<'d>,
        spread: &mut HashSet<&'d str>,
    ) {
        for selection in &set.items {
            self.budget = self.budget.saturating_sub(1);
            match &selection.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.as_str();
                    fields.entry(key).or_default().push((parent, field));
                }
                Selection::InlineFragment(fragment) => {
                    let on = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(parent, |condition| condition.node.on.node.as_str());
                    self.collect_into(on, &fragment.node.selection_set.node, fields, spread);
                }
                Selection::FragmentSpread(name) => {
                    let name = &name.node.fragment_name.node;
                    if !spread.insert(name.as_str()) {
                        continue;
                    }
                    if let Some(fragment) = self.document.fragments.get(name) {
                        let on = fragment.node.type_condition.node.on.node.as_str();
                        self.collect_into(on, &fragment.node.selection_set.node, fields, spread);
                    }
                }
            }
        }
    }

    /// FieldsInSetCanMerge over collected fields: reports each conflict.
    fn can_merge(&mut self, fields: &Collected<'d>) {
        for (key, group) in fields {
            for (index, (parent_a, a)) in group.iter().enumerate() {
                for (parent_b, b) in &group[index + 1..] {
                    // Out of budget, the pairs left are not even looked at: thousands of
                    // fields of one key are millions of pairs.
                    if self.budget == 0 {
                        return;
                    }
                    if let Some(reason) = self.conflict(parent_a, a, parent_b, b) {
                        self.report(key, &reason, a.pos, b.pos);
                    }
                }
            }
        }
    }

    fn report(&mut self, key: &str, reason: &str, a: Pos, b: Pos) {
        let places = vec![(a.line, a.column), (b.line, b.column)];
        if !self.reported.insert(places) {
            return;
        }
        let message = format!(
            "Fields \"{key}\" conflict because {reason}. Use different aliases on the fields to \
             fetch both if this was intentional."
        );
        let mut error = ServerError::new(message, Some(a));
        error.locations.push(b);
        self.errors
            .push(with_code(error, "GRAPHQL_VALIDATION_FAILED"));
    }

    /// Why fields `a` (on `parent_a`) and `b` (on `parent_b`) of one response key cannot
    /// merge, if they cannot.
    fn conflict(
        &mut self,
        parent_a: &'d str,
        a: &'d Positioned<Field>,
        parent_b: &'d str,
        b: &'d Positioned<Field>,
    ) -> Option<String> {
        if self.budget == 0 {
            return None;
        }
        self.budget -= 1;
        if let Some(reason) = self.same_shape(parent_a, a, parent_b, b) {
            return Some(reason);
        }
        let objects = |parent: &str| matches!(self.types.get(parent), Some(Named::Object { .. }));
        if parent_a != parent_b && objects(parent_a) && objects(parent_b) {
            return None;
        }
        let (field_a, field_b) = (&a.node, &b.node);
        if field_a.name.node != field_b.name.node {
            return Some(format!(
                "\"{}\" and \"{}\" are different fields",
                field_a.name.node, field_b.name.node
            ));
        }
        let same_arguments = field_a.arguments.len() == field_b.arguments.len()
            && field_a.arguments.iter().all(|(name, value)| {
                field_b.get_argument(&name.node).map(|other| &other.node) == Some(&value.node)
            });
        if !same_arguments {
            return Some("they have differing arguments".to_owned());
        }
        let sub = self.sub_fields(parent_a, a, parent_b, b)?;
        for (key, group) in &sub {
            for (index, (sub_parent_a, sub_a)) in group.iter().enumerate() {
                for (sub_parent_b, sub_b) in &group[index + 1..] {
                    if self.budget == 0 {
                        return None;
                    }
                    if let Some(reason) = self.conflict(sub_parent_a, sub_a, sub_parent_b, sub_b) {
                        return Some(format!("subfields \"{key}\" conflict because {reason}"));
                    }
                }
            }
        }
        None
    }

    /// The sub-selections of `a` and `b` together, collected; `None` for leaves.
    fn sub_fields(
        &mut self,
        parent_a: &'d str,
        a: &'d Positioned<Field>,
        parent_b: &'d str,
        b: &'d Positioned<Field>,
    ) -> Option<Collected<'d>> {
        let output_a = self.output(parent_a, &a.node.name.node)?;
        let output_b = self.output(parent_b, &b.node.name.node)?;
        Some(self.collect(&[
            (output_a, &a.node.selection_set.node),
            (output_b, &b.node.selection_set.node),
        ]))
    }

    /// SameResponseShape: why `a` and `b` would answer values of different shapes, if so.
    fn same_shape(
        &mut self,
        parent_a: &'d str,
        a: &'d Positioned<Field>,
        parent_b: &'d str,
        b: &'d Positioned<Field>,
    ) -> Option<String> {
        let (Some(type_a), Some(type_b)) = (
            self.field_type(parent_a, &a.node),
            self.field_type(parent_b, &b.node),
        ) else {
            return None;
        };
        let conflicting = || format!("they return conflicting types \"{type_a}\" and \"{type_b}\"");
        let (mut ta, mut tb) = (&type_a, &type_b);
        loop {
            if ta.nullable != tb.nullable {
                return Some(conflicting());
            }
            match (&ta.base, &tb.base) {
                (BaseType::List(item_a), BaseType::List(item_b)) => {
                    ta = item_a;
                    tb = item_b;
                }
                (BaseType::Named(name_a), BaseType::Named(name_b)) => {
                    let leaf = |name: &str| {
                        !matches!(
                            self.types.get(name),
                            Some(Named::Object { .. } | Named::Abstract { .. })
                        )
                    };
                    if (leaf(name_a) || leaf(name_b)) && name_a != name_b {
                        return Some(conflicting());
                    }
                    break;
                }
                _ => return Some(conflicting()),
            }
        }
        let sub = self.sub_fields(parent_a, a, parent_b, b)?;
        for (key, group) in &sub {
            for (index, (sub_parent_a, sub_a)) in group.iter().enumerate() {
                for (sub_parent_b, sub_b) in &group[index + 1..] {
                    if self.budget == 0 {
                        return None;
                    }
                    self.budget -= 1;
                    if let Some(reason) = self.same_shape(sub_parent_a, sub_a, sub_parent_b, sub_b)
                    {
                        return Some(format!("subfields \"{key}\" conflict because {reason}"));
                    }
                }
            }
        }
        None
    }

    /// Checks a literal `value` of input type `ty`: each value of the schema's own scalars in
    /// it must be one (variables are coerced apart; the rest is the validator's).
    fn literal(&mut self, value: &Value, ty: &Type, pos: Pos) {
        match (value, &ty.base) {
            (Value::Variable(_) | Value::Null, _) => {}
            (Value::List(items), BaseType::List(item)) => {
                for value in items {
                    self.literal(value, item, pos);
                }
            }
            (value, BaseType::List(item)) => self.literal(value, item, pos),
            (value, BaseType::Named(name)) => match self.types.get(name) {
                Some(Named::Input { fields }) => {
                    let Value::Object(given) = value else { return };
                    for field in fields {
                        if let Some(value) = given.get(&field.name) {
                            self.literal(value, &field.ty, pos);
                        }
                    }
                }
                Some(Named::Scalar) => {
                    let Some(value) = value.clone().into_const() else {
                        return;
                    };
                    if variables::scalar_accepts(name, &value) == Some(false) {
                        let message =
                            format!("Invalid value {value} for a \"{name}\" in the document");
                        let error = ServerError::new(message, Some(pos));
                        self.errors
                            .push(with_code(error, "GRAPHQL_VALIDATION_FAILED"));
                    }
                }
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::exec::types::Types;

    async fn errors(text: &str) -> Vec<String> {
        let types = Types::of_schema().await.expect("the schema's types");
        let document = async_graphql::parser::parse_query(text).expect("parses");
        check(&types, &document)
            .into_iter()
            .map(|error| error.message)
            .collect()
    }

    #[tokio::test]
    async fn fields_that_cannot_merge_are_found_wherever_they_are() {
        for text in [
            "{ me { a: id a: email } }",
            "{ me { profiles(last: 4) @skip(if: true) { totalCount } } me { profiles(first: 2) { totalCount } } }",
            "{ a: me { x: id } a: me { x: email } }",
            "{ me { ...A } me { ...B } } fragment A on User { x: id } fragment B on User { x: email }",
            "query { node(id: \"1\") { ... on User { x: email } ... on Profile { x: id } } }",
            "query { node(id: \"1\") { ... on Node { x: id } ... on User { x: email } } }",
            "{ me { p: profiles { totalCount } p: profiles { edges { cursor } totalCount: pageInfo { hasNextPage } } } }",
        ] {
            assert!(!errors(text).await.is_empty(), "{text}");
        }
    }

    #[tokio::test]
    async fn fields_that_merge_pass() {
        for text in [
            "{ me { id id ...A } } fragment A on User { id email }",
            "query { node(id: \"1\") { ... on User { x: email } ... on Profile { x: name } } }",
            "{ me { profiles(first: 2) { nodes { id } } profiles(first: 2) { nodes { name } } } }",
            "query($v: Boolean!) { me { id @skip(if: $v) id @include(if: $v) } }",
        ] {
            assert_eq!(errors(text).await, Vec::<String>::new(), "{text}");
        }
    }

    /// 60,000 fields of one key are 1.8·10⁹ pairs: once the budget is spent, the pairs left
    /// are not looked at (before, such a document took seconds of a runtime thread).
    #[tokio::test]
    async fn fields_of_one_key_are_compared_within_the_budget() {
        for text in [
            format!("{{ me {{ {} }} }}", "email ".repeat(60_000)),
            format!(
                "{{ a: me {{ {0} }} a: me {{ {0} }} }}",
                "email ".repeat(60_000)
            ),
        ] {
            assert_eq!(
                errors(&text).await,
                ["the document's fields take too long to check against each other"]
            );
        }
    }

    #[tokio::test]
    async fn literals_of_the_schemas_scalars_are_checked() {
        let bad = r#"{ me { profiles(filter: { linkedBefore: "yesterday" }) { totalCount } } }"#;
        assert_eq!(errors(bad).await.len(), 1);
        let default = r#"query($t: DateTime = "soon") { __typename }"#;
        assert_eq!(errors(default).await.len(), 1);
        let good = r#"{ me { profiles(filter: { linkedBefore: "2026-01-01T00:00:00Z" }) { totalCount } } }"#;
        assert!(errors(good).await.is_empty());
    }
}
