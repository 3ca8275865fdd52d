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
use futures_util::{StreamExt, stream};
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
const REGISTER: &str = "mutation($e: String!, $p: String!) { register(input: { email: $e, password: $p }) { accessToken } }";

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
    let rounds = args.logins.max(args.registrations).max(args.explosions);
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
        [login, register, explosion].into_iter().flatten()
    });
    let outcomes: Vec<(&str, String)> = stream::iter(requests)
        .map(|(kind, query, variables)| {
            let client = client.clone();
            let url = args.url.clone();
            async move { (kind, send(&client, &url, None, &query, variables).await.0) }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let flood_seconds = started.elapsed().as_secs_f64();
    flooding.store(false, Ordering::Relaxed);
    let mut latencies = honest.await?;
    let mut counts = BTreeMap::<(&str, String), usize>::new();
    for outcome in outcomes {
        *counts.entry(outcome).or_default() += 1;
    }
    let total = args.logins + args.registrations + args.explosions;
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
