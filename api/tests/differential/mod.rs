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

async fn generated_documents_answer_as_the_reference_does(backend: Backend) {
    let roster = TestApp::spawn(backend).await;
    let fixture = fixture::load(&roster).await;
    let engine = TestApp::spawn_at(backend, roster.database_url(), |config| {
        config.one_pass_answers = false;
        config.limits.query_max_complexity = usize::MAX / 2;
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

    /// Roster's answer to `doc`, when every answer agrees.
    async fn compare(&self, doc: &Doc, viewer: &Viewer) -> Result<String, Mismatch> {
        let roster = Self::answer(self.roster, doc, viewer).await;
        let engine = Self::answer(self.engine, doc, viewer).await;
        if roster != engine {
            return Err(Mismatch {
                what: "one-pass answer vs engine answer",
                first: roster,
                second: engine,
            });
        }
        let reference = self.reference.answer(doc, viewer).await;
        if Answer::of(&roster) != Answer::of(&reference) {
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
        let mismatch = match self.compare(doc, viewer).await {
            Ok(answer) => return answer,
            Err(mismatch) => mismatch,
        };
        let mut smallest = doc.clone();
        let mut last = mismatch;
        'smaller: loop {
            for index in 0..smallest.removable() {
                let smaller = smallest.without(index);
                if let Err(mismatch) = self.compare(&smaller, viewer).await
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
        errors: Vec<String>,
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
        let Some(data) = parsed.data else {
            let mut codes: Vec<String> = parsed.errors.iter().map(code).collect();
            codes.sort();
            codes.dedup();
            return Answer::Refused { codes };
        };
        let mut errors: Vec<String> = parsed
            .errors
            .iter()
            .map(|error| {
                format!(
                    "{} {} {} {}",
                    error["message"],
                    error["path"],
                    error["locations"][0],
                    code(error)
                )
            })
            .collect();
        errors.sort();
        let data = (data.get() != "null").then(|| data.get().to_owned());
        Answer::Executed { data, errors }
    }
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
