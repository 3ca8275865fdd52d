//! A flood of password work against a running server, with an honest client asking
//! `{ me { email } }` throughout: prints how each flood request was answered, the honest
//! client's latencies, and how long the flood took. `bench/flood.sh` runs it.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// The GraphQL endpoint.
    #[arg(long)]
    url: String,
    /// Logins with the attacker's own email and right password.
    #[arg(long, default_value_t = 2_000)]
    logins: usize,
    /// Registrations of new accounts, without a token.
    #[arg(long, default_value_t = 2_000)]
    registrations: usize,
    /// Documents whose fragments spread four times per level, 13 levels deep (4^13 fields once
    /// spread, in about 700 bytes), each a little different so no cache helps, without a token.
    #[arg(long, default_value_t = 0)]
    explosions: usize,
    /// Documents as long as a body may be (`{ me { email email … } }`, 43,000 fields in
    /// 252 KiB), each a little different, with the attacker's token, over HTTP.
    #[arg(long, default_value_t = 0)]
    long_documents: usize,
    /// WebSocket connections of the attacker (`--attacker-token`), each sending one subscribe
    /// message: alternately the largest a body may be (about 52,000 fields, merged by response
    /// key) and one of a million fields (8 MiB).
    #[arg(long, default_value_t = 0)]
    ws_messages: usize,
    /// The attacker's access token, for the WebSocket flood.
    #[arg(long)]
    attacker_token: Option<String>,
    /// Flood requests in flight at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    #[arg(long)]
    email: String,
    #[arg(long)]
    password: String,
    /// The honest client's access token.
    #[arg(long)]
    token: String,
}

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
const REGISTER: &str =
    "mutation($e: String!, $p: String!) { register(input: { email: $e, password: $p }) { email } }";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let flooding = Arc::new(AtomicBool::new(true));
    let honest = tokio::spawn(honest_client(
        client.clone(),
        args.url.clone(),
        args.token.clone(),
        flooding.clone(),
    ));
    let started = Instant::now();
    // Logins, registrations and explosions interleaved.
    let rounds = args
        .logins
        .max(args.registrations)
        .max(args.explosions)
        .max(args.long_documents);
    let requests = (0..rounds).flat_map(|n| {
        let login = (n < args.logins).then(|| {
            let variables = json!({ "e": args.email, "p": args.password });
            ("login", LOGIN.to_owned(), variables)
        });
        let register = (n < args.registrations).then(|| {
            let email = format!("flood-{n}@example.com");
            let variables = json!({ "e": email, "p": args.password });
            ("register", REGISTER.to_owned(), variables)
        });
        let explosion = (n < args.explosions).then(|| ("explosion", explosion(n), json!({})));
        let long = (n < args.long_documents).then(|| {
            let query = format!("query Long{n} {{ me {{ {}}} }}", "email ".repeat(43_000));
            ("long", query, json!({}))
        });
        [login, register, explosion, long].into_iter().flatten()
    });
    let outcomes: Vec<(&str, String)> = stream::iter(requests)
        .map(|(kind, query, variables)| {
            let client = client.clone();
            let url = args.url.clone();
            // Long documents are the attacker's own, sent with their token.
            let token = (kind == "long")
                .then(|| args.attacker_token.clone())
                .flatten();
            async move {
                let outcome = send(&client, &url, token.as_deref(), &query, variables).await;
                (kind, outcome.0)
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let ws_url = args.url.replacen("http", "ws", 1);
    let token = args.attacker_token.clone().unwrap_or_default();
    let ws_outcomes: Vec<(&str, String)> = stream::iter(0..args.ws_messages)
        .map(|n| {
            let (url, token) = (ws_url.clone(), token.clone());
            async move {
                let (kind, fields, field) = if n % 2 == 0 {
                    ("ws-max", 52_000, "kind ")
                } else {
                    ("ws-1M", 1_000_000, "kind ")
                };
                (
                    kind,
                    subscribe_once(&url, &token, &field.repeat(fields)).await,
                )
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let flood_seconds = started.elapsed().as_secs_f64();
    flooding.store(false, Ordering::Relaxed);
    let mut latencies = honest.await?;
    let mut counts = BTreeMap::<(&str, String), usize>::new();
    for outcome in outcomes.into_iter().chain(ws_outcomes) {
        *counts.entry(outcome).or_default() += 1;
    }
    let total =
        args.logins + args.registrations + args.explosions + args.long_documents + args.ws_messages;
    println!("flood: {total} requests in {flood_seconds:.1} s");
    for ((kind, outcome), count) in &counts {
        println!("  {kind:<9} {outcome:<22} {count}");
    }
    latencies.sort();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies
            .get(index)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "honest {{ me {{ email }} }}: {} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}

/// The `n`th exploding document.
fn explosion(n: usize) -> String {
    let levels = (0..13).map(|level| {
        let next = level + 1;
        format!("fragment F{level} on User {{ ...F{next} ...F{next} ...F{next} ...F{next} }}")
    });
    std::iter::once(format!("query Flood{n} {{ me {{ ...F0 }} }}"))
        .chain(levels)
        .chain(std::iter::once("fragment F13 on User { email }".to_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Opens a `graphql-transport-ws` connection with `token` and subscribes to
/// `myProfilesChanged { <fields> }`: what came back first (an error's code, or the close code).
async fn subscribe_once(url: &str, token: &str, fields: &str) -> String {
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let Ok(mut request) = url.into_client_request() else {
        return "bad URL".into();
    };
    request.headers_mut().insert(
        "sec-websocket-protocol",
        tokio_tungstenite::tungstenite::http::HeaderValue::from_static("graphql-transport-ws"),
    );
    let Ok((mut socket, _)) = tokio_tungstenite::connect_async(request).await else {
        return "connection failed".into();
    };
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    let query = format!("subscription {{ myProfilesChanged {{ {fields}}} }}");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    for message in [init, subscribe] {
        if socket
            .send(Message::text(message.to_string()))
            .await
            .is_err()
        {
            return "send failed".into();
        }
    }
    while let Some(message) = socket.next().await {
        match message {
            Ok(Message::Text(text)) => {
                let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                match value["type"].as_str() {
                    Some("connection_ack" | "ping") => continue,
                    Some("error") => {
                        let code = &value["payload"][0]["extensions"]["code"];
                        return code.as_str().unwrap_or("error").to_owned();
                    }
                    other => return other.unwrap_or("?").to_owned(),
                }
            }
            Ok(Message::Close(frame)) => {
                return format!("closed {}", frame.map_or(1005, |f| u16::from(f.code)));
            }
            Ok(_) => continue,
            Err(_) => return "closed 1006".into(),
        }
    }
    "closed".into()
}

/// Asks `{ me { email } }` every 10 ms while the flood lasts; the latency of each answer that
/// came back right.
async fn honest_client(
    client: reqwest::Client,
    url: String,
    token: String,
    flooding: Arc<AtomicBool>,
) -> Vec<Duration> {
    let mut latencies = Vec::new();
    while flooding.load(Ordering::Relaxed) {
        let started = Instant::now();
        let (outcome, body) =
            send(&client, &url, Some(&token), "{ me { email } }", json!({})).await;
        if outcome == "OK" && body["data"]["me"]["email"].is_string() {
            latencies.push(started.elapsed());
        } else {
            eprintln!("the honest client got {outcome}: {body}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    latencies
}

/// Posts a request; `OK`, the code of its first error, or how the HTTP exchange failed.
async fn send(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> (String, Value) {
    let mut request = client
        .post(url)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) if err.is_timeout() => return ("client timeout".into(), Value::Null),
        Err(_) => return ("connection failed".into(), Value::Null),
    };
    let status = response.status();
    let Ok(body) = response.json::<Value>().await else {
        return (format!("HTTP {status}"), Value::Null);
    };
    let outcome = match body["errors"][0]["extensions"]["code"].as_str() {
        Some(code) => code.to_owned(),
        None => "OK".to_owned(),
    };
    (outcome, body)
}
