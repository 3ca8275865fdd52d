//! Documents: parsed once and validated once by their text, and the operation a request picks.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
};

use async_graphql::{
    Name, Positioned, ServerError,
    parser::types::{DocumentOperations, ExecutableDocument, OperationDefinition},
};
use lru::LruCache;
use tokio::sync::{OnceCell, Semaphore};

use super::{Types, limits, rules};
use crate::{
    error::AppError,
    graphql::{self, Validator},
};

/// A parsed document, and what validation found in it (once asked).
pub struct Document {
    pub parsed: ExecutableDocument,
    /// Why the document is refused before validation, if it is (`limits::explodes`).
    pub explosion: Option<String>,
    validation: OnceCell<Vec<ServerError>>,
}

impl Document {
    /// The validation errors of the document, by every rule of GraphQL validation that does
    /// not depend on variables' values; validated the first time it is asked.
    pub async fn errors(&self, validator: &Validator, types: &Types) -> &[ServerError] {
        self.validation
            .get_or_init(|| async {
                let errors = graphql::validate(validator, &self.parsed).await;
                if !errors.is_empty() {
                    return errors;
                }
                rules::check(types, &self.parsed)
            })
            .await
    }
}

impl Document {
    pub(super) fn new(parsed: ExecutableDocument) -> Self {
        Document {
            explosion: limits::explodes(&parsed),
            parsed,
            validation: OnceCell::new(),
        }
    }
}

/// Documents seen lately, by their text: clients send the same few documents again and
/// again, and parsing and validating one costs more than executing a small query.
///
/// Long documents (over `DOCUMENT_KEPT_MAX_BYTES`) are neither kept nor checked on the
/// runtime's threads: one as large as a body may be holds some 50,000 fields, and parsing and
/// validating it takes about 100 ms of a core. They are parsed and validated on the blocking
/// pool, at most one fewer at once than the machine has cores (at least one), with
/// `WAITING_PER_LONG` more waiting for each; more are refused at once (`RATE_LIMITED`), so a
/// flood of long documents always leaves a core to everything else.
#[derive(Clone)]
pub struct Documents {
    kept: Arc<Mutex<LruCache<String, Arc<Document>>>>,
    /// One per long document that may be checked at once.
    checking: Arc<Semaphore>,
    /// One per long document that may be checked or wait.
    admitted: Arc<Semaphore>,
}

/// How many long documents may wait for each one being checked.
const WAITING_PER_LONG: usize = 4;

/// Why a document was not made.
pub enum Refusal {
    /// It does not parse.
    Parse(ServerError),
    /// It was not checked: `RATE_LIMITED` when too many long documents are being checked.
    Unchecked(AppError),
}

/// How many documents are kept.
const DOCUMENTS_KEPT: usize = 128;
/// Longer documents are parsed every time, so the cache stays a few megabytes at most.
const DOCUMENT_KEPT_MAX_BYTES: usize = 4 * 1024;

impl Default for Documents {
    fn default() -> Self {
        let kept = NonZeroUsize::new(DOCUMENTS_KEPT).unwrap_or(NonZeroUsize::MIN);
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let at_once = cores.saturating_sub(1).max(1);
        Documents {
            kept: Arc::new(Mutex::new(LruCache::new(kept))),
            checking: Arc::new(Semaphore::new(at_once)),
            admitted: Arc::new(Semaphore::new(at_once * (1 + WAITING_PER_LONG))),
        }
    }
}

impl Documents {
    /// The document of `text`: a short one from the cache or parsed here, a long one parsed
    /// and validated on the blocking pool, within the bounds above.
    pub async fn get(
        &self,
        text: &str,
        validator: &Validator,
        types: &Arc<Types>,
    ) -> Result<Arc<Document>, Refusal> {
        if text.len() <= DOCUMENT_KEPT_MAX_BYTES {
            return self.parse(text).map_err(Refusal::Parse);
        }
        let busy = || {
            Refusal::Unchecked(AppError::rate_limited(
                "the server is busy checking long documents; try again in a second",
                1,
            ))
        };
        let _admitted = self.admitted.try_acquire().map_err(|_| busy())?;
        let checking = self
            .checking
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| busy())?;
        let (text, validator, types) = (text.to_owned(), validator.clone(), types.clone());
        let runtime = tokio::runtime::Handle::current();
        let checked = tokio::task::spawn_blocking(move || {
            // The place is held until the work is done, even if the request is gone.
            let _checking = checking;
            let document = Document::new(async_graphql::parser::parse_query(&text)?);
            if document.explosion.is_none() {
                runtime.block_on(document.errors(&validator, &types));
            }
            Ok(Arc::new(document))
        });
        checked
            .await
            .map_err(|_| Refusal::Unchecked(AppError::Internal))?
            .map_err(Refusal::Parse)
    }

    /// The document of `text`, from the cache when it was seen lately.
    fn parse(&self, text: &str) -> Result<Arc<Document>, ServerError> {
        let kept = text.len() <= DOCUMENT_KEPT_MAX_BYTES;
        if kept
            && let Some(document) = self
                .kept
                .lock()
                .ok()
                .and_then(|mut kept| kept.get(text).cloned())
        {
            return Ok(document);
        }
        let document = Arc::new(Document::new(async_graphql::parser::parse_query(text)?));
        if kept && let Ok(mut documents) = self.kept.lock() {
            documents.put(text.to_owned(), document.clone());
        }
        Ok(document)
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.kept.lock().map_or(0, |kept| kept.len())
    }
}

/// The operation of `document` that a request names, or its only one (GetOperation); the
/// message of a request error otherwise.
pub fn operation<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Result<(Option<&'d Name>, &'d Positioned<OperationDefinition>), String> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), None) => Ok((None, operation)),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .get_key_value(name)
            .map(|(name, operation)| (Some(name), operation))
            .ok_or_else(|| format!("Unknown operation named \"{name}\".")),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => Ok(operations
            .iter()
            .next()
            .map(|(name, operation)| (Some(name), operation))
            .ok_or_else(|| "The document has no operation.".to_owned())?),
        (DocumentOperations::Multiple(_), None) => {
            Err("Operation name required in request.".to_owned())
        }
        (DocumentOperations::Single(_), Some(name)) => {
            Err(format!("Unknown operation named \"{name}\"."))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{DOCUMENT_KEPT_MAX_BYTES, Documents, Refusal, operation};

    #[test]
    fn documents_are_parsed_once_by_text_and_refusals_are_not_kept() {
        let documents = Documents::default();
        let text = "query Two { me { email } profiles { totalCount } }";
        let first = documents.parse(text).expect("parses");
        let again = documents.parse(text).expect("parses");
        assert!(std::sync::Arc::ptr_eq(&first, &again));
        assert_eq!(documents.kept(), 1);

        assert!(documents.parse("{ me { ").is_err());
        assert!(documents.parse("{ me { ").is_err());
        let long = format!(
            "{{ me {{ email }} }} # {}",
            "x".repeat(DOCUMENT_KEPT_MAX_BYTES)
        );
        assert!(documents.parse(&long).is_ok());
        assert_eq!(
            documents.kept(),
            1,
            "only the short, valid document is kept"
        );
    }

    /// A long document is parsed and validated off the runtime's threads, and beyond the
    /// places of the lane refused at once, before it is even parsed.
    #[tokio::test]
    async fn long_documents_are_checked_within_their_lane() {
        let config = crate::config::Config::with_database("sqlite::memory:");
        let validator = crate::graphql::validator(&config);
        let types = std::sync::Arc::new(crate::exec::Types::of_schema().await.expect("types"));
        let documents = Documents::default();
        let long = format!(
            "{{ me {{ nope }} }} # {}",
            "x".repeat(DOCUMENT_KEPT_MAX_BYTES)
        );
        let Ok(document) = documents.get(&long, &validator, &types).await else {
            panic!("a long document is parsed");
        };
        let errors = document.errors(&validator, &types).await;
        assert!(errors[0].message.contains("nope"), "{errors:?}");
        assert_eq!(documents.kept(), 0);

        let places = documents.admitted.available_permits();
        let _taken = documents.admitted.acquire_many(places as u32).await;
        assert!(matches!(
            documents.get(&long, &validator, &types).await,
            Err(Refusal::Unchecked(
                crate::error::AppError::RateLimited { .. }
            ))
        ));
        assert!(
            documents
                .get("{ me { email } }", &validator, &types)
                .await
                .is_ok()
        );
    }

    #[test]
    fn the_operation_is_the_one_named_or_the_only_one() {
        let documents = Documents::default();
        let one = documents.parse("{ me { id } }").expect("parses");
        assert!(operation(&one.parsed, None).is_ok());
        assert!(operation(&one.parsed, Some("A")).is_err());
        let two = documents
            .parse("query A { me { id } } query B { me { email } }")
            .expect("parses");
        let (name, _) = operation(&two.parsed, Some("B")).expect("B");
        assert_eq!(name.map(|name| name.as_str()), Some("B"));
        assert_eq!(
            operation(&two.parsed, None).err().as_deref(),
            Some("Operation name required in request.")
        );
        assert!(operation(&two.parsed, Some("C")).is_err());
    }
}
