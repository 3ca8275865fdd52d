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
use tokio::sync::OnceCell;

use super::{Types, limits, rules};
use crate::graphql::{self, Validator};

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

/// Documents seen lately, by their text: clients send the same few documents again and
/// again, and parsing and validating one costs more than executing a small query.
#[derive(Clone)]
pub struct Documents(Arc<Mutex<LruCache<String, Arc<Document>>>>);

/// How many documents are kept.
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
    /// The document of `text`, from the cache when it was seen lately.
    pub fn parse(&self, text: &str) -> Result<Arc<Document>, ServerError> {
        let kept = text.len() <= DOCUMENT_KEPT_MAX_BYTES;
        if kept
            && let Some(document) = self
                .0
                .lock()
                .ok()
                .and_then(|mut kept| kept.get(text).cloned())
        {
            return Ok(document);
        }
        let parsed = async_graphql::parser::parse_query(text)?;
        let document = Arc::new(Document {
            explosion: limits::explodes(&parsed),
            parsed,
            validation: OnceCell::new(),
        });
        if kept && let Ok(mut documents) = self.0.lock() {
            documents.put(text.to_owned(), document.clone());
        }
        Ok(document)
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.0.lock().map_or(0, |kept| kept.len())
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
    use super::{DOCUMENT_KEPT_MAX_BYTES, Documents, operation};

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
