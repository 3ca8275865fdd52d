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
//! - An error of a nullable field's resolver fails the whole object holding it (try_join_all);
//!   `NullableFieldErrors` turns it into the field's null, as the specification does.
//! - `DataLoader` hands its loads to the spawner it was given as soon as a key is asked for,
//!   and a load waits for its delay before it takes its keys (`scheduler::Loads`).

use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::{
    ContextSelectionSet, ObjectType, Positioned, Request, ServerError, ServerResult,
    SubscriptionType, ValidationMode, ValidationResult, Value,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextResolve, NextValidation, ResolveInfo,
    },
    parser::types::{ExecutableDocument, InlineFragment, Selection, SelectionSet},
};

/// Errors that Roster catches during execution, beside those async-graphql collects: they
/// join the response's errors when the execution ends.
#[derive(Default)]
pub struct Caught(Mutex<Vec<ServerError>>);

impl Caught {
    pub fn push(&self, error: ServerError) {
        if let Ok(mut errors) = self.0.lock() {
            errors.push(error);
        }
    }

    /// Whether any error was caught or collected so far in the request of `ctx`.
    pub fn any(&self, ctx: &async_graphql::Context<'_>) -> bool {
        let caught = self.0.lock().map_or(true, |errors| !errors.is_empty());
        caught
            || ctx
                .query_env
                .errors
                .lock()
                .map_or(true, |errors| !errors.is_empty())
    }

    pub fn take(&self) -> Vec<ServerError> {
        self.0
            .lock()
            .map(|mut errors| std::mem::take(&mut *errors))
            .unwrap_or_default()
    }
}

/// Turns the error of a nullable field into the field's null (and the error into the
/// request's errors), as the specification's execution does; the errors of non-null fields
/// travel up to the nearest nullable field, as async-graphql already does.
pub struct NullableFieldErrors;

impl ExtensionFactory for NullableFieldErrors {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NullableFieldErrors)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for NullableFieldErrors {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        match next.run(ctx, info).await {
            Err(error) if nullable => match ctx.data_opt::<Arc<Caught>>() {
                Some(caught) => {
                    caught.push(error);
                    Ok(Some(Value::Null))
                }
                None => Err(error),
            },
            answer => answer,
        }
    }
}

/// `error` as an error of the field `ctx` resolves, at its place in the answer.
pub fn field_error(
    ctx: &async_graphql::Context<'_>,
    error: impl Into<async_graphql::Error>,
) -> ServerError {
    ctx.set_error_path(error.into().into_server_error(ctx.item.pos))
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
/// validated documents (which computes their complexity and depth only).
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
