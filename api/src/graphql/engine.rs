//! What Roster relies on in async-graphql beyond its documented API, in one place, each with
//! a test below (the dependency is pinned to one version: an upgrade that changes any of
//! these fails a test instead of answering wrong).
//!
//! - The engine answers a document whose selection sets hold each response key once, in
//!   the order given, and `{}` for an object none of whose fields is selected; Roster hands it
//!   only such documents (`exec::collect`) and never relies on its merging of fields.
//! - A value a resolver returns reaches the answer unchanged (the one-pass writer's spliced
//!   JSON).
//! - A resolver sees its field's selection set as `ctx.item` (`#[doc(hidden)]`).
//! - The engine's validation does not visit the directives of `__typename`; `validate` moves
//!   them to an inline fragment, where it does.
//! - The engine cancels the fields beside one that fails (try_join_all) and rewrites an error's
//!   path at each list item it crosses; `FieldErrors` handles every field's error itself, as
//!   the specification does, so none reaches the engine; `resolve_non_null_items` completes the
//!   items of Roster's own lists the same way without the engine's per-item hook.
//! - `DataLoader` hands its loads to the spawner it was given as soon as a key is asked for,
//!   and a load waits for its delay before it takes its keys (`scheduler::Loads`).

use std::sync::{
    Arc, Mutex, OnceLock,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{
    ContextSelectionSet, ObjectType, OutputType, PathSegment, Positioned, QueryPathNode,
    QueryPathSegment, Request, ServerError, ServerResult, SubscriptionType, ValidationMode,
    ValidationResult, Value,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextResolve, NextValidation, ResolveInfo,
    },
    parser::types::{ExecutableDocument, Field, InlineFragment, Selection, SelectionSet},
    resolver_utils::resolve_list,
};
use futures_util::future::join_all;

use super::described;

/// The field errors of one execution, handled as the specification handles them: each error
/// is recorded once, with its path, where it is raised, and its field answers null; a null in a
/// non-null field or list item makes its parent null in turn, up to the nearest nullable one
/// (or the whole `data`). `FieldErrors` does this around every field and list item, so no error
/// reaches the engine's own handling, which would cancel the fields beside it (try_join_all:
/// answers that depend on timing) and rewrite its path at each list item it crosses.
#[derive(Default)]
pub struct Caught {
    errors: Mutex<Vec<ServerError>>,
    /// Values that must be null because a non-null field or item in them is; taken by the
    /// field or item holding them (the empty path: the whole `data`).
    nulled: Mutex<Vec<Vec<PathSegment>>>,
    /// Whether `nulled` holds anything (checked by every field).
    pending: AtomicBool,
}

impl Caught {
    pub fn push(&self, error: ServerError) {
        lock(&self.errors).push(error);
    }

    /// Whether any error was recorded so far in the request of `ctx`.
    pub fn any(&self, ctx: &async_graphql::Context<'_>) -> bool {
        !lock(&self.errors).is_empty()
            || ctx
                .query_env
                .errors
                .lock()
                .map_or(true, |errors| !errors.is_empty())
    }

    /// The errors recorded, and whether `data` itself must be null; the record is emptied
    /// (a subscription's events each have their own).
    pub fn take(&self) -> (Vec<ServerError>, bool) {
        let errors = std::mem::take(&mut *lock(&self.errors));
        let mut nulled = lock(&self.nulled);
        let data_nulled = !nulled.is_empty();
        nulled.clear();
        self.pending.store(false, Ordering::Release);
        (errors, data_nulled)
    }

    /// The value completed at `node`, unless it is null: its error recorded, or a non-null
    /// value inside it failed (the mark taken).
    fn settle<T>(&self, node: &QueryPathNode<'_>, completed: ServerResult<T>) -> Option<T> {
        match completed {
            Ok(value) if !self.pending.load(Ordering::Acquire) => Some(value),
            Ok(value) => (!self.take_nulled(&path_of(node))).then_some(value),
            Err(error) => {
                self.push(error);
                None
            }
        }
    }

    /// The value at `path` must be null.
    fn null(&self, path: Vec<PathSegment>) {
        lock(&self.nulled).push(path);
        self.pending.store(true, Ordering::Release);
    }

    /// Whether the value at `path` must be null; the marks for it are taken.
    fn take_nulled(&self, path: &[PathSegment]) -> bool {
        if !self.pending.load(Ordering::Acquire) {
            return false;
        }
        let mut nulled = lock(&self.nulled);
        let before = nulled.len();
        nulled.retain(|marked| marked != path);
        let taken = nulled.len() != before;
        if nulled.is_empty() {
            self.pending.store(false, Ordering::Release);
        }
        taken
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The path of a field or list item.
fn path_of(node: &QueryPathNode<'_>) -> Vec<PathSegment> {
    let mut path: Vec<PathSegment> = std::iter::once(node)
        .chain(node.parents())
        .map(|node| match node.segment {
            QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
            QueryPathSegment::Index(index) => PathSegment::Index(index),
        })
        .collect();
    path.reverse();
    path
}

/// Handles the errors of every field and list item as the specification does (see `Caught`),
/// and completes the descriptions introspection answers (`described`): one hook around every
/// field the engine resolves, since each costs a boxed future per field.
pub struct FieldErrors;

impl ExtensionFactory for FieldErrors {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(FieldErrors)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for FieldErrors {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let node = info.path_node;
        let nullable = !info.return_type.ends_with('!');
        let resolved = if described::applies(&info) {
            described::resolve(ctx, info, next).await
        } else {
            next.run(ctx, info).await
        };
        let Some(caught) = ctx.data_opt::<Arc<Caught>>() else {
            return resolved;
        };
        if let Some(value) = caught.settle(node, resolved) {
            return Ok(value);
        }
        if !nullable {
            let mut parent = path_of(node);
            parent.pop();
            caught.null(parent);
        }
        Ok(Some(Value::Null))
    }
}

/// `error` as an error of the field `ctx` resolves, at its place in the answer.
pub fn field_error(
    ctx: &async_graphql::Context<'_>,
    error: impl Into<async_graphql::Error>,
) -> ServerError {
    ctx.set_error_path(error.into().into_server_error(ctx.item.pos))
}

/// The items of a list of non-null items (`[T!]`), completed as the engine completes a list,
/// in order, each error handled as `FieldErrors` handles it, but without the engine's
/// extension hook around every item (which formats two type names per item): a failed item
/// makes the list null, and the list's field hook takes it from there.
pub async fn resolve_non_null_items<'a, T: OutputType + 'a>(
    ctx: &ContextSelectionSet<'a>,
    field: &Positioned<Field>,
    items: &[T],
) -> ServerResult<Value> {
    let Some(caught) = ctx.data_opt::<Arc<Caught>>() else {
        return resolve_list(ctx, field, items, Some(items.len())).await;
    };
    let completed = join_all(items.iter().enumerate().map(|(index, item)| {
        let ctx = ctx.clone();
        async move {
            let ctx_item = ctx.with_index(index);
            let completed = item
                .resolve(&ctx_item, field)
                .await
                .map_err(|error| ctx_item.set_error_path(error));
            let node = ctx_item.path_node.as_ref()?;
            caught.settle(node, completed)
        }
    }))
    .await;
    match completed.into_iter().collect::<Option<Vec<Value>>>() {
        Some(values) => Ok(Value::List(values)),
        None => {
            if let Some(node) = &ctx.path_node {
                caught.null(path_of(node));
            }
            Ok(Value::Null)
        }
    }
}

/// The selection set of the field a resolver completes.
pub fn selection<'a>(ctx: &ContextSelectionSet<'a>) -> &'a SelectionSet {
    &ctx.item.node
}

/// `ctx` for completing the items of `set`, a sub-selection of its selection.
pub fn with_selection<'a>(
    ctx: &ContextSelectionSet<'a>,
    set: &'a Positioned<SelectionSet>,
) -> ContextSelectionSet<'a> {
    ctx.with_selection_set(set)
}

/// A schema that validates documents and runs none: what validation finds is kept in the
/// request's `Validated`, and the request stops there.
pub struct ValidationOnly;

#[derive(Default)]
struct Validated(OnceLock<Vec<ServerError>>);

impl ExtensionFactory for ValidationOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ValidationOnly)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ValidationOnly {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let errors = next.run(ctx).await.err().unwrap_or_default();
        if let Some(validated) = ctx.data_opt::<Arc<Validated>>() {
            let _ = validated.0.set(errors);
        }
        // Nothing runs after validation.
        Err(Vec::new())
    }
}

/// The validation mode of the schema that validates (every rule) and of the one that runs
/// validated documents (which checks nothing more; `exec` bounds their cost).
pub const VALIDATING: ValidationMode = ValidationMode::Strict;
pub const RUNNING: ValidationMode = ValidationMode::Fast;

/// The errors of `document` by the rules of GraphQL validation, static: variables' values
/// are coerced apart (`exec::variables`). `validator` is a schema built with `ValidationOnly`.
pub async fn validate<Q, M, S>(
    validator: &async_graphql::Schema<Q, M, S>,
    document: &ExecutableDocument,
) -> Vec<ServerError>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let mut document = document.clone();
    for (_, fragment) in document.fragments.iter_mut() {
        typename_directives_on_fragments(&mut fragment.node.selection_set.node);
    }
    match &mut document.operations {
        async_graphql::parser::types::DocumentOperations::Single(operation) => {
            typename_directives_on_fragments(&mut operation.node.selection_set.node);
        }
        async_graphql::parser::types::DocumentOperations::Multiple(operations) => {
            for operation in operations.values_mut() {
                typename_directives_on_fragments(&mut operation.node.selection_set.node);
            }
        }
    }
    let validated = Arc::new(Validated::default());
    let mut request = Request::new("").data(validated.clone());
    request.set_parsed_query(document);
    let response = validator.execute(request).await;
    match validated.0.get() {
        Some(errors) => errors.clone(),
        // Refused before validation (too deeply nested).
        None => response.errors,
    }
}

/// Moves the directives of every `__typename` of `set` to an inline fragment around it
/// (`__typename @skip(if: $v)` is `... @skip(if: $v) { __typename }`), where validation
/// visits them.
fn typename_directives_on_fragments(set: &mut SelectionSet) {
    for selection in &mut set.items {
        let pos = selection.pos;
        match &mut selection.node {
            Selection::Field(field)
                if field.node.name.node == "__typename" && !field.node.directives.is_empty() =>
            {
                let directives = std::mem::take(&mut field.node.directives);
                let typename = Positioned::new(Selection::Field(field.clone()), pos);
                let fragment = InlineFragment {
                    type_condition: None,
                    directives,
                    selection_set: Positioned::new(
                        SelectionSet {
                            items: vec![typename],
                        },
                        pos,
                    ),
                };
                selection.node = Selection::InlineFragment(Positioned::new(fragment, pos));
            }
            Selection::Field(field) => {
                typename_directives_on_fragments(&mut field.node.selection_set.node);
            }
            Selection::InlineFragment(fragment) => {
                typename_directives_on_fragments(&mut fragment.node.selection_set.node);
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashMap,
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };

    use async_graphql::{
        Context, EmptyMutation, EmptySubscription, Object, Schema, SimpleObject,
        dataloader::{DataLoader, Loader},
    };
    use serde_json::json;

    use super::*;
    use crate::graphql::{json::spliced, scheduler::Loads};

    #[derive(SimpleObject)]
    struct Leaf {
        x: i32,
        y: i32,
    }

    #[derive(Default)]
    struct Query {
        calls: AtomicUsize,
    }

    struct Item(i32);

    #[Object]
    impl Item {
        async fn fine(&self) -> i32 {
            self.0
        }

        /// Fails for odd items.
        async fn odd(&self) -> async_graphql::Result<i32> {
            if self.0 % 2 == 1 {
                return Err(format!("{} is odd", self.0).into());
            }
            Ok(self.0)
        }
    }

    #[Object]
    impl Query {
        /// Answers last.
        async fn slow(&self) -> i32 {
            tokio::time::sleep(Duration::from_millis(30)).await;
            1
        }

        async fn fast(&self) -> i32 {
            2
        }

        async fn counted(&self) -> usize {
            self.calls.fetch_add(1, Ordering::SeqCst) + 1
        }

        async fn leaf(&self) -> Leaf {
            Leaf { x: 1, y: 2 }
        }

        async fn failing(&self) -> async_graphql::Result<Option<i32>> {
            Err("no".into())
        }

        async fn failing_non_null(&self) -> async_graphql::Result<i32> {
            Err("no".into())
        }

        async fn items(&self) -> Vec<Item> {
            (0..4).map(Item).collect()
        }

        async fn maybe_items(&self) -> Option<Vec<Item>> {
            Some((0..4).map(Item).collect())
        }

        async fn splice(&self) -> SpliceOut {
            SpliceOut
        }

        /// The fields of the operation's root as a resolver sees them.
        async fn seen(&self, ctx: &Context<'_>) -> Vec<String> {
            let root = ctx.query_env.operation.node.selection_set.node.items.iter();
            root.filter_map(|selection| match &selection.node {
                async_graphql::parser::types::Selection::Field(field) => {
                    Some(field.node.name.node.to_string())
                }
                _ => None,
            })
            .collect()
        }
    }

    /// An object whose answer is JSON written ahead: each field it is asked for, valued by
    /// its place in the selection it sees.
    struct SpliceOut;

    impl async_graphql::OutputType for SpliceOut {
        fn type_name() -> std::borrow::Cow<'static, str> {
            "SpliceOut".into()
        }

        fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
            Leaf::create_type_info(registry);
            "Leaf".into()
        }

        async fn resolve(
            &self,
            ctx: &ContextSelectionSet<'_>,
            _field: &Positioned<async_graphql::parser::types::Field>,
        ) -> ServerResult<Value> {
            let members: Vec<String> = selection(ctx)
                .items
                .iter()
                .enumerate()
                .filter_map(|(index, item)| match &item.node {
                    Selection::Field(field) => {
                        Some(format!("\"{}\":{index}", field.node.name.node))
                    }
                    _ => None,
                })
                .collect();
            Ok(spliced(format!("{{{}}}", members.join(",")).into_bytes()))
        }
    }

    fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query::default(), EmptyMutation, EmptySubscription)
            .extension(FieldErrors)
            .finish()
    }

    async fn answer(query: &str) -> serde_json::Value {
        let caught = Arc::new(Caught::default());
        let mut response = schema()
            .execute(Request::new(query).data(caught.clone()))
            .await;
        let (errors, data_nulled) = caught.take();
        response.errors.extend(errors);
        if data_nulled {
            response.data = Value::Null;
        }
        serde_json::to_value(&response).expect("JSON")
    }

    /// The answer as written.
    async fn written(query: &str) -> String {
        let response = schema().execute(query).await;
        String::from_utf8(crate::graphql::to_json(&response).expect("JSON")).expect("UTF-8")
    }

    #[tokio::test]
    async fn fields_are_answered_in_the_order_asked_whichever_finishes_first() {
        assert_eq!(
            written("{ slow fast }").await,
            r#"{"data":{"slow":1,"fast":2}}"#
        );
        assert_eq!(
            written("{ fast slow }").await,
            r#"{"data":{"fast":2,"slow":1}}"#
        );
    }

    #[tokio::test]
    async fn an_object_without_selected_fields_is_empty_not_null() {
        let answer = answer("{ leaf { x @skip(if: true) } }").await;
        assert_eq!(answer["data"], json!({ "leaf": {} }));
    }

    #[tokio::test]
    async fn a_key_selected_twice_is_resolved_twice_and_merged() {
        // Why `exec::collect` merges fields before the engine sees them.
        let answer = answer("{ a: counted a: counted }").await;
        assert_eq!(answer["data"], json!({ "a": 1 }));
        let answer = self::answer("{ a: counted b: counted }").await;
        assert_eq!(answer["data"], json!({ "a": 1, "b": 2 }));
    }

    #[tokio::test]
    async fn skipped_selections_are_removed_before_resolvers_see_them() {
        let answer = answer("{ seen @include(if: true) fast @skip(if: true) }").await;
        assert_eq!(answer["data"], json!({ "seen": ["seen"] }));
        assert_eq!(
            written("{ leaf { y x @skip(if: true) } }").await,
            r#"{"data":{"leaf":{"y":2}}}"#
        );
    }

    #[tokio::test]
    async fn a_resolver_sees_its_selection_and_its_value_reaches_the_answer_unchanged() {
        assert_eq!(
            written("{ splice { y x } fast }").await,
            r#"{"data":{"splice":{"y":0,"x":1},"fast":2}}"#
        );
    }

    #[tokio::test]
    async fn a_nullable_field_that_fails_is_null_and_a_non_null_one_nulls_its_parent() {
        let answer = answer("{ fast failing }").await;
        assert_eq!(answer["data"], json!({ "fast": 2, "failing": null }));
        assert_eq!(answer["errors"][0]["path"], json!(["failing"]));
        let answer = self::answer("{ fast failingNonNull }").await;
        assert_eq!(answer["data"], json!(null));
        assert_eq!(answer["errors"][0]["path"], json!(["failingNonNull"]));
    }

    #[tokio::test]
    async fn errors_keep_their_paths_through_lists_and_nulls_stop_at_the_first_nullable() {
        let answer = answer("{ fast maybeItems { fine odd } }").await;
        assert_eq!(answer["data"], json!({ "fast": 2, "maybeItems": null }));
        let paths: Vec<_> = answer["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|error| error["path"].clone())
            .collect();
        assert!(paths.contains(&json!(["maybeItems", 1, "odd"])), "{answer}");
        assert!(paths.contains(&json!(["maybeItems", 3, "odd"])), "{answer}");
        assert_eq!(
            paths.len(),
            2,
            "every error raised is reported, once: {answer}"
        );
        // Up to the whole `data` when nothing above is nullable; every failing sibling runs
        // to its end and reports its error, whatever finishes first.
        for _ in 0..20 {
            let answer = self::answer("{ items { odd } failingNonNull slow }").await;
            assert_eq!(answer["data"], json!(null));
            assert_eq!(
                answer["errors"].as_array().map(Vec::len),
                Some(3),
                "{answer}"
            );
        }
    }

    #[tokio::test]
    async fn directives_of_typename_are_validated() {
        let validator = Schema::build(Query::default(), EmptyMutation, EmptySubscription)
            .validation_mode(VALIDATING)
            .extension(ValidationOnly)
            .finish();
        let errors = |text: &str| {
            let document = async_graphql::parser::parse_query(text).expect("parses");
            let validator = validator.clone();
            async move { validate(&validator, &document).await }
        };
        assert!(
            errors("query($v: Boolean!) { __typename @skip(if: $v) }")
                .await
                .is_empty()
        );
        assert!(
            errors("query($v: Boolean!) { t: __typename @include(if: $v) fast }")
                .await
                .is_empty()
        );
        assert!(
            !errors("{ __typename @skip(if: $undefined) }")
                .await
                .is_empty()
        );
        assert!(!errors("{ __typename @skip(if: 3) }").await.is_empty());
        assert!(!errors("query($v: Boolean!) { fast }").await.is_empty());
        assert!(!errors("{ nope }").await.is_empty());
        // Values of variables are not validation's business: they are coerced apart.
        assert!(
            errors("query($v: Int) { fast @skip(if: true) counted }")
                .await
                .len()
                == 1
        );
    }

    struct Keys(Arc<Mutex<Vec<Vec<i32>>>>);

    impl Loader<i32> for Keys {
        type Value = i32;
        type Error = String;

        async fn load(&self, keys: &[i32]) -> Result<HashMap<i32, i32>, String> {
            if let Ok(mut batches) = self.0.lock() {
                batches.push(keys.to_vec());
            }
            Ok(keys.iter().map(|key| (*key, key * 10)).collect())
        }
    }

    #[tokio::test]
    async fn a_level_of_keys_is_one_load_run_when_the_execution_waits() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let loads = Loads::default();
        let loader = DataLoader::new(Keys(batches.clone()), loads.spawner())
            .delay(Duration::ZERO)
            .max_batch_size(usize::MAX);
        let level = futures_util::future::join_all((0..50).map(|key| loader.load_one(key)));
        let values = loads.run(level).await;
        assert_eq!(values.len(), 50);
        assert_eq!(values[7], Ok(Some(70)));
        let batches = batches
            .lock()
            .map(|batches| batches.clone())
            .unwrap_or_default();
        assert_eq!(batches.len(), 1, "{batches:?}");
        assert_eq!(batches[0].len(), 50);
    }
}
