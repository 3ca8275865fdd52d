//! Persisted documents: a request may name its document instead of sending its text.
//!
//! - **Trusted documents** (`PERSISTED_DOCUMENTS`): a manifest loaded at start-up, in the
//!   formats the tools write it (Relay's `persisted_queries.json` and GraphQL Codegen's
//!   `persisted-documents.json`, an object of id to text; Apollo's
//!   `persisted-query-manifest.json`). Requests name a document by `documentId` (or Relay's
//!   `doc_id`), or by `extensions.persistedQuery.sha256Hash`. With
//!   `PERSISTED_DOCUMENTS_ONLY` no other document runs.
//! - **Automatic persisted queries** (Apollo's protocol, also urql's): a client sends the
//!   SHA-256 hash of its document; when the server does not hold it, the answer is
//!   `PERSISTED_QUERY_NOT_FOUND` and the client sends the text with the hash, which the server
//!   checks and, once the document validates, keeps: in the database, where every replica
//!   finds it (the newest `APQ_CACHE_BYTES`), and in each replica's memory in front of it
//!   (as much, least recently used out first).

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
};

use async_graphql::{Request, Value, Variables};
use lru::LruCache;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

use super::{Types, Verdict, document::Document};
use crate::{graphql::Validator, store::persisted_queries};

/// A GraphQL request as a client sends it (over HTTP, or in a WebSocket message's payload):
/// the fields GraphQL over HTTP names, and the id of a persisted document.
#[derive(serde::Deserialize, Default)]
pub struct Sent {
    #[serde(default)]
    pub query: String,
    #[serde(default, rename = "operationName")]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Variables,
    #[serde(default)]
    pub extensions: async_graphql::Extensions,
    /// The id of a trusted document: `documentId`, as the GraphQL over HTTP persisted
    /// documents proposal names it, or `doc_id`, as Relay's documentation does.
    #[serde(default, rename = "documentId", alias = "doc_id")]
    pub document_id: Option<String>,
}

/// Where a document id travels inside the request the engine sees.
const DOCUMENT_ID: &str = "documentId";

impl From<Sent> for Request {
    fn from(sent: Sent) -> Request {
        let mut request = Request::new(sent.query).variables(sent.variables);
        request.operation_name = sent.operation_name;
        request.extensions = sent.extensions;
        if let Some(id) = sent.document_id {
            request
                .extensions
                .insert(DOCUMENT_ID.to_owned(), Value::from(id));
        }
        request
    }
}

/// Why a request's document could not be had.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
    pub verdict: Verdict,
}

impl Refusal {
    /// A request that is not one as the protocols define it.
    fn malformed(code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            verdict: Verdict::Malformed,
        }
    }

    /// A request this server does not run.
    fn refused(code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            verdict: Verdict::Refused,
            ..Refusal::malformed(code, message)
        }
    }

    /// A request that names a document this server does not hold.
    fn missing(code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            verdict: Verdict::Missing,
            ..Refusal::malformed(code, message)
        }
    }
}

/// The persisted documents of this replica.
pub struct Persisted {
    /// Trusted documents by their id.
    trusted: HashMap<String, Arc<str>>,
    /// Trusted documents by the SHA-256 hash of their text.
    trusted_by_hash: HashMap<String, Arc<str>>,
    /// Only trusted documents run.
    only: bool,
    /// Documents registered by automatic persisted queries; `None` when they are off.
    automatic: Option<Mutex<Automatic>>,
}

/// Documents registered by hash, bounded by the bytes of their texts.
struct Automatic {
    documents: LruCache<String, Arc<str>>,
    bytes: usize,
    max_bytes: usize,
}

impl Automatic {
    fn get(&mut self, hash: &str) -> Option<Arc<str>> {
        self.documents.get(hash).cloned()
    }

    /// Keeps `text` under `hash`; whether it was not kept already.
    fn put(&mut self, hash: String, text: &str) -> bool {
        if text.len() > self.max_bytes || self.documents.contains(&hash) {
            return false;
        }
        self.bytes += text.len();
        self.documents.put(hash, Arc::from(text));
        while self.bytes > self.max_bytes {
            let Some((_, evicted)) = self.documents.pop_lru() else {
                break;
            };
            self.bytes -= evicted.len();
        }
        true
    }
}

/// What a request carries to name its document.
struct Named {
    /// `extensions.persistedQuery.sha256Hash`, checked to be one.
    hash: Option<String>,
    /// `documentId`, without a `sha256:` prefix.
    id: Option<String>,
}

impl Persisted {
    /// Automatic persisted queries only, keeping up to `apq_bytes` of documents (none: off).
    pub fn automatic(apq_bytes: usize) -> Self {
        Persisted {
            trusted: HashMap::new(),
            trusted_by_hash: HashMap::new(),
            only: false,
            automatic: (apq_bytes > 0).then(|| {
                Mutex::new(Automatic {
                    documents: LruCache::unbounded(),
                    bytes: 0,
                    max_bytes: apq_bytes,
                })
            }),
        }
    }

    /// The manifest at `path` as trusted documents, each checked against the schema; with
    /// `only`, no other document runs (and none is registered automatically).
    pub async fn load(
        path: &Path,
        only: bool,
        apq_bytes: usize,
        validator: &Validator,
        types: &Types,
    ) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| anyhow::anyhow!("could not read {}: {err}", path.display()))?;
        let mut trusted = manifest(&text)
            .map_err(|err| anyhow::anyhow!("{} is not a manifest: {err}", path.display()))?;
        let mut broken = Vec::new();
        for (id, text) in &trusted {
            if let Some(message) = check(text, validator, types).await {
                broken.push(format!("{id}: {message}"));
            }
        }
        if !broken.is_empty() {
            broken.sort();
            anyhow::bail!(
                "{} has {} document(s) this schema does not run:\n{}",
                path.display(),
                broken.len(),
                broken.join("\n")
            );
        }
        // GraphQL Codegen writes ids as `sha256:<hash>`; requests may send the hash alone.
        let prefixed: Vec<(String, Arc<str>)> = trusted
            .iter()
            .filter_map(|(id, text)| Some((id.strip_prefix("sha256:")?.to_owned(), text.clone())))
            .collect();
        trusted.extend(prefixed);
        let mut persisted = Persisted::automatic(if only { 0 } else { apq_bytes });
        persisted.only = only;
        persisted.trusted_by_hash = trusted
            .values()
            .map(|text| (sha256(text), text.clone()))
            .collect();
        persisted.trusted = trusted;
        Ok(persisted)
    }

    /// How many trusted documents there are.
    pub fn trusted(&self) -> usize {
        self.trusted.len()
    }

    /// Puts the text of the document `request` names in its `query`, or refuses it: one it
    /// names and this server does not hold, a hash its text does not have, or (only trusted
    /// documents running) a text that is not one of them. `Some(hash)` when the text came
    /// with its hash to be registered, which [`Persisted::register`] does once it validated.
    pub async fn resolve(
        &self,
        request: &mut Request,
        db: &DatabaseConnection,
    ) -> Result<Option<String>, Refusal> {
        let named = named(request)?;
        if request.query.trim().is_empty() {
            let text = self.named_document(&named, db).await?;
            request.query = text.to_string();
            return Ok(None);
        }
        if named.hash.is_none() && named.id.is_none() && !self.only {
            // A plain request: nothing to check, and no hash to compute.
            return Ok(None);
        }
        let hash = sha256(&request.query);
        if let Some(sent) = &named.hash
            && *sent != hash
        {
            return Err(Refusal::malformed(
                "PERSISTED_QUERY_HASH_MISMATCH",
                "the SHA-256 hash of `query` is not `extensions.persistedQuery.sha256Hash`",
            ));
        }
        if let Some(id) = &named.id
            && self
                .trusted
                .get(id)
                .is_none_or(|text| **text != *request.query)
        {
            return Err(Refusal::malformed(
                "BAD_REQUEST",
                "send a document's id (`documentId`) or its text (`query`), not both",
            ));
        }
        if self.only && !self.trusted_by_hash.contains_key(&hash) {
            return Err(Refusal::refused(
                "PERSISTED_DOCUMENTS_ONLY",
                "this server runs only its trusted documents: send the id of one \
                 (`documentId`) instead of a document's text",
            ));
        }
        let registers = named.hash.is_some() && self.automatic.is_some();
        Ok(registers.then_some(hash))
    }

    /// Keeps `text`, a valid document sent with its `hash`, for requests that send the hash
    /// alone, on every replica. A failure to keep it is logged: the request runs all the same.
    pub async fn register(&self, hash: String, text: &str, db: &DatabaseConnection) {
        let Some(automatic) = &self.automatic else {
            return;
        };
        // A document this replica keeps already is in the database too, or was there.
        let max_bytes = {
            let Ok(mut kept) = automatic.lock() else {
                return;
            };
            if !kept.put(hash.clone(), text) {
                return;
            }
            kept.max_bytes
        };
        let registered =
            persisted_queries::register(db, &hash, text, max_bytes, APQ_CACHE_DOCUMENTS).await;
        if let Err(err) = registered {
            tracing::warn!(error = %err, "could not keep a persisted query for other replicas");
        }
    }

    /// The text of the document a request without `query` names.
    async fn named_document(
        &self,
        named: &Named,
        db: &DatabaseConnection,
    ) -> Result<Arc<str>, Refusal> {
        let trusted = match (&named.id, &named.hash) {
            (Some(id), _) => self
                .trusted
                .get(id)
                .or_else(|| self.trusted_by_hash.get(id)),
            (None, Some(hash)) => self
                .trusted
                .get(hash)
                .or_else(|| self.trusted_by_hash.get(hash)),
            (None, None) => {
                return Err(Refusal::malformed(
                    "BAD_REQUEST",
                    "the request has no `query`",
                ));
            }
        };
        if let Some(text) = trusted {
            return Ok(text.clone());
        }
        let shown = named
            .id
            .as_ref()
            .or(named.hash.as_ref())
            .map_or("", |id| id);
        if self.only {
            return Err(Refusal::missing(
                "PERSISTED_QUERY_NOT_IN_LIST",
                format!("no trusted document has the id {shown:?}"),
            ));
        }
        let Some(hash) = &named.hash else {
            return Err(Refusal::missing(
                "PERSISTED_QUERY_NOT_FOUND",
                format!("no persisted document has the id {shown:?}"),
            ));
        };
        let Some(automatic) = &self.automatic else {
            return Err(Refusal::refused(
                "PERSISTED_QUERY_NOT_SUPPORTED",
                "PersistedQueryNotSupported",
            ));
        };
        let kept = automatic.lock().ok().and_then(|mut kept| kept.get(hash));
        if let Some(text) = kept {
            return Ok(text);
        }
        match persisted_queries::get(db, hash).await {
            Ok(Some(text)) => {
                if let Ok(mut kept) = automatic.lock() {
                    kept.put(hash.clone(), &text);
                }
                Ok(Arc::from(text))
            }
            Ok(None) => {
                // The message Apollo's and urql's links look for, besides the code.
                Err(Refusal::missing(
                    "PERSISTED_QUERY_NOT_FOUND",
                    "PersistedQueryNotFound",
                ))
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not read the persisted queries");
                Err(Refusal::missing(
                    "PERSISTED_QUERY_NOT_FOUND",
                    "PersistedQueryNotFound",
                ))
            }
        }
    }
}

/// What `request`'s extensions name: Apollo's `persistedQuery` (version 1, a SHA-256 hash in
/// lowercase hexadecimal), and a document id (as [`Sent`] puts it there).
fn named(request: &Request) -> Result<Named, Refusal> {
    let hash = match request.extensions.get("persistedQuery") {
        None | Some(Value::Null) => None,
        Some(Value::Object(persisted)) => {
            if persisted.get("version") != Some(&Value::from(1)) {
                return Err(Refusal::malformed(
                    "BAD_REQUEST",
                    "`extensions.persistedQuery.version` must be 1",
                ));
            }
            match persisted.get("sha256Hash") {
                Some(Value::String(hash)) if is_sha256(hash) => Some(hash.to_ascii_lowercase()),
                _ => {
                    return Err(Refusal::malformed(
                        "BAD_REQUEST",
                        "`extensions.persistedQuery.sha256Hash` must be a SHA-256 hash in \
                         hexadecimal",
                    ));
                }
            }
        }
        Some(_) => {
            return Err(Refusal::malformed(
                "BAD_REQUEST",
                "`extensions.persistedQuery` must be an object",
            ));
        }
    };
    let id = match request.extensions.get(DOCUMENT_ID) {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 256 => {
            Some(id.strip_prefix("sha256:").unwrap_or(id).to_owned())
        }
        Some(_) => {
            return Err(Refusal::malformed(
                "BAD_REQUEST",
                "`documentId` must be a string of 1 to 256 characters",
            ));
        }
    };
    Ok(Named { hash, id })
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn sha256(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// The documents of a manifest by id: an object of id to text (Relay, GraphQL Codegen), or
/// Apollo's `{ "format": "apollo-persisted-query-manifest", "operations": [{ "id", "body" }] }`.
fn manifest(text: &str) -> Result<HashMap<String, Arc<str>>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Manifest {
        Apollo { operations: Vec<Operation> },
        ById(HashMap<String, String>),
    }
    #[derive(serde::Deserialize)]
    struct Operation {
        id: String,
        body: String,
    }
    Ok(match serde_json::from_str(text)? {
        Manifest::Apollo { operations } => operations
            .into_iter()
            .map(|operation| (operation.id, Arc::from(operation.body)))
            .collect(),
        Manifest::ById(documents) => documents
            .into_iter()
            .map(|(id, text)| (id, Arc::from(text)))
            .collect(),
    })
}

/// Why the schema does not run `text`, if it does not.
async fn check(text: &str, validator: &Validator, types: &Types) -> Option<String> {
    let parsed = match async_graphql::parser::parse_query(text) {
        Ok(parsed) => parsed,
        Err(err) => return Some(err.to_string()),
    };
    let document = Document::new(parsed);
    if let Some(explosion) = &document.explosion {
        return Some(explosion.clone());
    }
    let errors = document.errors(validator, types).await;
    (!errors.is_empty()).then(|| {
        errors
            .iter()
            .map(|error| error.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// How many bytes of documents automatic persisted queries keep at most, by default.
pub const APQ_CACHE_BYTES: usize = 8 * 1024 * 1024;
/// How many documents automatic persisted queries keep at most in the database, so keeping
/// one more stays a quick statement.
const APQ_CACHE_DOCUMENTS: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::{Automatic, LruCache, manifest};

    #[test]
    fn manifests_read_in_each_tools_format() {
        let relay = manifest(r#"{ "2f1c": "query A { me { id } }" }"#).expect("Relay's");
        assert_eq!(&*relay["2f1c"], "query A { me { id } }");
        let apollo = manifest(
            r#"{ "format": "apollo-persisted-query-manifest", "version": 1,
                 "operations": [{ "id": "ab", "name": "A", "type": "query", "body": "{ me { id } }" }] }"#,
        )
        .expect("Apollo's");
        assert_eq!(&*apollo["ab"], "{ me { id } }");
        assert!(manifest("[1, 2]").is_err());
    }

    #[test]
    fn automatic_documents_stay_within_their_bytes() {
        let mut automatic = Automatic {
            documents: LruCache::unbounded(),
            bytes: 0,
            max_bytes: 10,
        };
        automatic.put("a".into(), "12345");
        automatic.put("b".into(), "12345");
        assert!(automatic.get("a").is_some(), "a is now the most recent");
        automatic.put("c".into(), "123");
        assert_eq!(automatic.bytes, 8);
        assert!(automatic.get("b").is_none(), "the least recent went first");
        automatic.put("d".into(), "12345678901");
        assert!(automatic.get("d").is_none(), "longer than the whole cache");
        assert!(automatic.bytes <= 10);
    }
}
