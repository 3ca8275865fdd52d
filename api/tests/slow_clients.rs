//! Slow and idle clients, as an attacker sends them over raw TCP: headers a byte at a time,
//! bodies that never finish, connections held open by the hundred.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    db_tests,
    helpers::{Backend, TestApp},
};

db_tests!(
    headers_sent_a_byte_at_a_time_are_cut_off[own_server],
    a_body_that_does_not_arrive_in_time_gets_408[own_server],
    connections_over_the_cap_wait_for_a_place[own_server],
);

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.url.trim_start_matches("http://");
    TcpStream::connect(address)
        .await
        .expect("the server listens")
}

/// Whether the server closed `stream` (reading it ends or fails) within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

async fn headers_sent_a_byte_at_a_time_are_cut_off(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.limits.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    let mut slow = connect(&app).await;
    let started = Instant::now();
    let request = b"POST /graphql HTTP/1.1\r\nHost: roster\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut cut_off = false;
    for byte in request {
        if slow.write_all(&[*byte]).await.is_err() {
            cut_off = true;
            break;
        }
        if closed_within(&mut slow, Duration::from_millis(100)).await {
            cut_off = true;
            break;
        }
    }
    assert!(
        cut_off,
        "the connection still open after {:?}",
        started.elapsed()
    );
    // An idle connection is closed the same way.
    let mut idle = connect(&app).await;
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await);
    app.stop().await;
}

async fn a_body_that_does_not_arrive_in_time_gets_408(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.limits.body_read_timeout = Duration::from_millis(500);
    })
    .await;
    let mut slow = connect(&app).await;
    let head = "POST /graphql HTTP/1.1\r\nHost: roster\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"query\":";
    slow.write_all(head.as_bytes()).await.expect("sent");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        // A byte every 100 ms: never idle long, never done.
        let _ = slow.write_all(b" ").await;
        if let Ok(Ok(read)) =
            tokio::time::timeout(Duration::from_millis(100), slow.read(&mut buffer)).await
        {
            if read == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..read]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break;
            }
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"TIMEOUT\""), "{answer}");
    app.stop().await;
}

async fn connections_over_the_cap_wait_for_a_place(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.limits.max_connections = 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect(&app).await);
    }
    // Let the server accept them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = reqwest::Client::new();
    let url = format!("{}/graphql?query=%7B__typename%7D", app.url);
    let waiting = tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a fifth connection was served");
    drop(held.pop());
    let status = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once a place is free")
        .expect("the task ends")
        .expect("an answer");
    assert_eq!(status, 200);
    app.stop().await;
}
