//! Generated documents, each answered by Roster, by Roster with one-pass answers off, and by an
//! independent reference — graphql-js executing the same document over naive resolvers that
//! read the same database (`tests-js/reference.mjs`) — and compared: Roster's two answers byte
//! for byte, Roster's and the reference's `data` byte for byte and their errors by message,
//! code, path and first location. A difference prints the smallest document that still shows
//! it. `ROSTER_DIFFERENTIAL_SEED` and `ROSTER_DIFFERENTIAL_DOCUMENTS` choose the documents.

mod fixture;
mod generate;

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json, value::RawValue};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{
    db_tests,
    helpers::{Backend, TestApp},
};
use fixture::Viewer;
use generate::{Doc, Generator, Schema};

db_tests!(generated_documents_answer_as_the_reference_does[own_server]);

/// Documents per database, unless `ROSTER_DIFFERENTIAL_DOCUMENTS` says otherwise.
const DOCUMENTS: usize = 300;
/// Cursor walks per database, each through every page of a list, forward then backward.
const WALKS: usize = 12;

/// Limits are not what this test checks: they stay out of the way of generated documents.
fn unlimited(config: &mut api::Config) {
    let limits = &mut config.limits;
    limits.query_max_complexity = usize::MAX / 2;
    limits.query_max_aliases = 10_000;
    limits.query_max_root_fields = 1_000;
    limits.query_max_depth = 100;
}

async fn generated_documents_answer_as_the_reference_does(backend: Backend) {
    let roster = TestApp::spawn_with(backend, unlimited).await;
    let fixture = fixture::load(&roster).await;
    let engine = TestApp::spawn_at(backend, roster.database_url(), |config| {
        unlimited(config);
        config.one_pass_answers = false;
    })
    .await;
    let reference = Reference::start(roster.database_url()).await;
    let servers = Servers {
        roster: &roster,
        engine: &engine,
        reference: &reference,
    };
    let introspection = roster
        .data_as(
            &fixture.viewers[0].token,
            generate::INTROSPECTION,
            json!({}),
        )
        .await;
    let schema = Schema::from_introspection(&introspection);
    let seed = env_number("ROSTER_DIFFERENTIAL_SEED").unwrap_or(15);
    let documents = env_number("ROSTER_DIFFERENTIAL_DOCUMENTS").unwrap_or(DOCUMENTS as u64);
    let mut generator = Generator::new(&schema, fixture.values(), seed);
    for number in 0..documents {
        let viewer = generator.rng.pick(&fixture.viewers).clone();
        let doc = generator.document();
        let answered = servers.check(&doc, &viewer, backend, seed, number).await;
        remember_cursors(&mut generator.values.cursors, &answered);
    }
    for walk in 0..WALKS {
        let viewer = generator.rng.pick(&fixture.viewers).clone();
        servers
            .walk(&mut generator, &viewer, backend, seed, walk)
            .await;
    }
    reference.stop().await;
    engine.stop().await;
    roster.stop().await;
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

/// The reference executor, a Node.js process.
struct Reference {
    url: String,
    client: reqwest::Client,
    child: tokio::process::Child,
}

impl Reference {
    async fn start(database_url: &str) -> Reference {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests-js/reference.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(database_url)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("Node.js runs tests-js/reference.mjs (see README.md: `cd tests-js && npm ci`)");
        let stdout = child.stdout.take().expect("its output");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the reference starts within 30 s")
            .expect("its output reads")
            .expect("it says where it listens");
        let port = line
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("the reference said {line:?}"));
        Reference {
            url: format!("http://127.0.0.1:{port}/graphql"),
            client: reqwest::Client::new(),
            child,
        }
    }

    async fn answer(&self, doc: &Doc, viewer: &Viewer) -> String {
        self.client
            .post(&self.url)
            .header("x-viewer", viewer.key.to_string())
            .json(&json!({ "query": doc.text(), "variables": doc.variables() }))
            .send()
            .await
            .expect("the reference answers")
            .text()
            .await
            .expect("a body")
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

struct Servers<'a> {
    roster: &'a TestApp,
    engine: &'a TestApp,
    reference: &'a Reference,
}

/// Two answers that should be the same and are not.
struct Mismatch {
    what: &'static str,
    first: String,
    second: String,
}

impl Servers<'_> {
    async fn answer(app: &TestApp, doc: &Doc, viewer: &Viewer) -> String {
        app.client()
            .post(format!("{}/graphql", app.url))
            .bearer_auth(&viewer.token)
            .json(&json!({ "query": doc.text(), "variables": doc.variables() }))
            .send()
            .await
            .expect("Roster answers")
            .text()
            .await
            .expect("a body")
    }

    /// Roster's answer to `doc`, when every answer agrees. `valid_only`: a document the
    /// reference refuses as invalid counts as agreeing (while a failing one is made smaller,
    /// only valid documents are of interest).
    async fn compare(
        &self,
        doc: &Doc,
        viewer: &Viewer,
        valid_only: bool,
    ) -> Result<String, Mismatch> {
        let reference = self.reference.answer(doc, viewer).await;
        let expected = Answer::of(&reference);
        let roster = Self::answer(self.roster, doc, viewer).await;
        if valid_only && matches!(expected, Answer::Refused { .. }) {
            return Ok(roster);
        }
        let engine = Self::answer(self.engine, doc, viewer).await;
        if roster != engine {
            return Err(Mismatch {
                what: "one-pass answer vs engine answer",
                first: roster,
                second: engine,
            });
        }
        if !Answer::of(&roster).agrees_with(&expected) {
            return Err(Mismatch {
                what: "Roster vs reference",
                first: roster,
                second: reference,
            });
        }
        Ok(roster)
    }

    /// Checks `doc` as `viewer`; on a difference, panics with the smallest document that still
    /// shows it.
    async fn check(
        &self,
        doc: &Doc,
        viewer: &Viewer,
        backend: Backend,
        seed: u64,
        number: u64,
    ) -> String {
        let mismatch = match self.compare(doc, viewer, false).await {
            Ok(answer) => return answer,
            Err(mismatch) => mismatch,
        };
        let mut smallest = doc.clone();
        let mut last = mismatch;
        'smaller: loop {
            for index in 0..smallest.removable() {
                let smaller = smallest.without(index);
                if let Err(mismatch) = self.compare(&smaller, viewer, true).await
                    && mismatch.what == last.what
                {
                    smallest = smaller;
                    last = mismatch;
                    continue 'smaller;
                }
            }
            break;
        }
        panic!(
            "{backend:?}, seed {seed}, document {number}, as {}: {}\n\
             smallest document: {}\nvariables: {}\n{}\nand\n{}\n(whole document: {})",
            viewer.name,
            last.what,
            smallest.text(),
            smallest.variables(),
            last.first,
            last.second,
            doc.text()
        );
    }

    /// Walks every page of a random list forward, then backward, comparing each page.
    async fn walk(
        &self,
        generator: &mut Generator<'_>,
        viewer: &Viewer,
        backend: Backend,
        seed: u64,
        walk: usize,
    ) {
        let list = fixture::walk_list(generator);
        let size = 1 + generator.rng.below(3);
        for backward in [false, true] {
            let mut cursor: Option<String> = None;
            for page in 0..30u64 {
                let doc = list.page(size, backward, cursor.as_deref());
                let answer = self
                    .check(
                        &doc,
                        viewer,
                        backend,
                        seed,
                        1_000_000 + (walk as u64) * 100 + page,
                    )
                    .await;
                let body: Value = serde_json::from_str(&answer).expect("JSON");
                let info = list.page_info(&body);
                let (more, next) = if backward {
                    (&info["hasPreviousPage"], &info["startCursor"])
                } else {
                    (&info["hasNextPage"], &info["endCursor"])
                };
                match (more.as_bool(), next.as_str()) {
                    (Some(true), Some(next)) => cursor = Some(next.to_owned()),
                    _ => break,
                }
            }
        }
    }
}

/// What is compared of an answer: its `data` as written, and its errors by message, code,
/// path and first location (graphql-js lists every location of a merged field, and the order
/// of errors is not defined). A request refused before execution compares by its codes.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Executed {
        data: Option<String>,
        /// Each error, written for comparing, with its path.
        errors: Vec<(String, Value)>,
    },
    Refused {
        codes: Vec<String>,
    },
    Unreadable(String),
}

impl Answer {
    fn of(body: &str) -> Answer {
        #[derive(Deserialize)]
        struct Body<'a> {
            #[serde(borrow)]
            data: Option<&'a RawValue>,
            #[serde(default)]
            errors: Vec<Value>,
        }
        let Ok(parsed) = serde_json::from_str::<Body>(body) else {
            return Answer::Unreadable(body.to_owned());
        };
        let code = |error: &Value| error["extensions"]["code"].to_string();
        // `data: null` (execution answered nothing) is not an answer without `data` (refused
        // before execution).
        let has_data =
            serde_json::from_str::<Value>(body).is_ok_and(|whole| whole.get("data").is_some());
        if !has_data {
            let mut codes: Vec<String> = parsed.errors.iter().map(code).collect();
            codes.sort();
            codes.dedup();
            return Answer::Refused { codes };
        }
        let mut errors: Vec<(String, Value)> = parsed
            .errors
            .iter()
            .map(|error| {
                let written = format!(
                    "{} {} {} {}",
                    error["message"],
                    error["path"],
                    error["locations"][0],
                    code(error)
                );
                (written, error["path"].clone())
            })
            .collect();
        errors.sort_by(|a, b| a.0.cmp(&b.0));
        let data = parsed.data.map(|data| data.get().to_owned());
        Answer::Executed { data, errors }
    }

    /// Whether Roster's answer (`self`) agrees with the reference's: the same data, and the
    /// same errors — except that graphql-js reports, of the errors of fields beside each other
    /// under one null, only the first to fail, where Roster reports each error raised (as the
    /// specification asks); Roster's others must be inside a part of the answer that is null.
    fn agrees_with(&self, reference: &Answer) -> bool {
        let (
            Answer::Executed { data, errors },
            Answer::Executed {
                data: reference_data,
                errors: reference_errors,
            },
        ) = (self, reference)
        else {
            return self == reference;
        };
        if data != reference_data {
            return false;
        }
        let reported = |list: &[(String, Value)], written: &String| {
            list.iter().any(|(other, _)| other == written)
        };
        if reference_errors
            .iter()
            .any(|(written, _)| !reported(errors, written))
        {
            return false;
        }
        let parsed: Value = data
            .as_deref()
            .and_then(|data| serde_json::from_str(data).ok())
            .unwrap_or(Value::Null);
        errors
            .iter()
            .all(|(written, path)| reported(reference_errors, written) || nulled(&parsed, path))
    }
}

/// Whether `path` crosses a null of `data` before its end (or `data` is null).
fn nulled(data: &Value, path: &Value) -> bool {
    let segments = path.as_array().cloned().unwrap_or_default();
    let mut value = data;
    for segment in &segments[..segments.len().saturating_sub(1)] {
        if value.is_null() {
            return true;
        }
        value = match segment {
            Value::String(key) => &value[key.as_str()],
            Value::Number(index) => {
                &value[usize::try_from(index.as_u64().unwrap_or(0)).unwrap_or(0)]
            }
            _ => return false,
        };
    }
    value.is_null()
}

/// Adds the cursors of `answer` to `cursors` (the most recent 64 are kept).
fn remember_cursors(cursors: &mut Vec<String>, answer: &str) {
    fn collect(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                for (key, value) in object {
                    match (key.as_str(), value) {
                        ("cursor" | "startCursor" | "endCursor", Value::String(cursor)) => {
                            found.push(cursor.clone());
                        }
                        _ => collect(value, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| collect(item, found)),
            _ => {}
        }
    }
    if let Ok(body) = serde_json::from_str::<Value>(answer) {
        collect(&body["data"], cursors);
    }
    let extra = cursors.len().saturating_sub(64);
    cursors.drain(..extra);
}

#[test]
fn errors_beside_each_other_under_a_null_may_be_fewer_in_the_reference() {
    let roster = r#"{"data":null,"errors":[{"message":"a","locations":[{"line":1,"column":57}],"path":["users"],"extensions":{"code":"FORBIDDEN"}},{"message":"b","locations":[{"line":1,"column":268}],"path":["profiles"],"extensions":{"code":"BAD_USER_INPUT"}}]}"#;
    let reference = r#"{"data":null,"errors":[{"message":"a","locations":[{"line":1,"column":57}],"path":["users"],"extensions":{"code":"FORBIDDEN"}}]}"#;
    assert!(Answer::of(roster).agrees_with(&Answer::of(reference)));
    let partial = r#"{"data":{"me":null},"errors":[{"message":"a","path":["me","a"]},{"message":"b","path":["me","b"]}]}"#;
    let first = r#"{"data":{"me":null},"errors":[{"message":"a","path":["me","a"]}]}"#;
    assert!(Answer::of(partial).agrees_with(&Answer::of(first)));
    let other = r#"{"data":{"me":null},"errors":[{"message":"c","path":["me","c"]}]}"#;
    assert!(!Answer::of(partial).agrees_with(&Answer::of(other)));
}
