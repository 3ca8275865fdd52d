//! Subscriptions over WebSocket (`graphql-transport-ws`): events of mutations sent to one
//! replica reach subscribers of another, in order; removed users stop receiving; tokens that
//! expire or are revoked close their connection; limits hold; mutations sent over the socket
//! run as over HTTP.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest},
};

use crate::{
    db_tests,
    helpers::{Backend, PASSWORD, ServerProcess, TestApp, TestDatabase},
};

db_tests!(
    events_reach_subscribers_on_every_replica[own_server],
    expired_and_revoked_tokens_close_the_connection[own_server],
    connections_and_subscriptions_are_bounded[own_server],
    stopping_replicas_send_subscribers_away[own_server],
    revocations_reach_every_replica[own_server],
    mutations_are_all_or_nothing_over_the_socket_and_for_subscribers[own_server],
    events_are_answered_as_the_specification_executes_them[own_server],
    rights_are_read_per_operation_and_subscriptions_end_when_they_change,
    invitees_hear_of_their_invitations_on_every_replica[own_server],
    one_subprotocol_is_negotiated_and_spoken_and_close_frames_are_answered,
    trusted_documents_are_subscribed_by_id_and_others_refused,
);

/// A `graphql-transport-ws` client.
struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

enum Outcome {
    Acknowledged(Box<Client>),
    Closed(u16, String),
}

impl Client {
    async fn connect(server: &str, payload: Value) -> Outcome {
        let url = format!("{}/graphql", server.replace("http://", "ws://"));
        let mut request = url.into_client_request().expect("a request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("a header"),
        );
        let (mut socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the server upgrades");
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        socket
            .send(Message::text(
                json!({ "type": "connection_init", "payload": payload }).to_string(),
            ))
            .await
            .expect("sent");
        let mut client = Client { socket };
        match client.next().await {
            Some(Ok(message)) if message["type"] == "connection_ack" => {
                Outcome::Acknowledged(Box::new(client))
            }
            Some(Err((code, reason))) => Outcome::Closed(code, reason),
            other => panic!(
                "unexpected answer to connection_init: {:?}",
                other.map(|o| o.ok())
            ),
        }
    }

    async fn with_token(server: &str, token: &str) -> Client {
        match Client::connect(
            server,
            json!({ "Authorization": format!("Bearer {token}") }),
        )
        .await
        {
            Outcome::Acknowledged(client) => *client,
            Outcome::Closed(code, reason) => panic!("closed {code}: {reason}"),
        }
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.subscribe_to(id, json!({ "query": query, "variables": variables }))
            .await;
    }

    /// Subscribes with `payload` as the request.
    async fn subscribe_to(&mut self, id: &str, payload: Value) {
        let message = json!({ "id": id, "type": "subscribe", "payload": payload });
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("sent");
    }

    /// The text of the next message that is not a ping.
    async fn next_text(&mut self) -> String {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(5), self.socket.next())
                .await
                .expect("a message within 5 s")
                .expect("the connection is open")
                .expect("a message");
            if let Message::Text(text) = message
                && !text.contains(r#""type":"ping""#)
            {
                return text.to_string();
            }
        }
    }

    /// The next protocol message, or the close frame as `Err`; `None` after 5 s of silence.
    async fn next(&mut self) -> Option<Result<Value, (u16, String)>> {
        self.next_within(Duration::from_secs(5)).await
    }

    async fn next_within(&mut self, limit: Duration) -> Option<Result<Value, (u16, String)>> {
        loop {
            let message = tokio::time::timeout(limit, self.socket.next())
                .await
                .ok()??;
            match message {
                Ok(Message::Text(text)) => {
                    let value: Value = serde_json::from_str(&text).expect("json");
                    if value["type"] == "ping" {
                        continue;
                    }
                    return Some(Ok(value));
                }
                Ok(Message::Close(frame)) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    });
                    return Some(Err((code, reason)));
                }
                Ok(_) => continue,
                Err(_) => return Some(Err((1006, "dropped".into()))),
            }
        }
    }

    /// The next event of subscription `id`, as (kind, user ID, role).
    async fn event(&mut self, id: &str) -> (String, String, Value) {
        let message = self.next().await.expect("an event").expect("not closed");
        assert_eq!(message["id"], id, "{message}");
        assert_eq!(message["type"], "next", "{message}");
        let event = message["payload"]["data"]
            .as_object()
            .and_then(|data| data.values().next())
            .cloned()
            .expect("an event");
        (
            event["kind"].as_str().unwrap_or_default().to_owned(),
            event["userId"].as_str().unwrap_or_default().to_owned(),
            event["role"].clone(),
        )
    }
}

/// The whole answer to a GraphQL request, errors included.
async fn answer(server: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{server}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json")
}

/// The data of a GraphQL request that must succeed.
async fn gql(server: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    let body = answer(server, token, query, variables).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

/// Registers `email` and signs in; its ID and access token.
async fn register(server: &str, email: &str) -> (String, String) {
    gql(
        server,
        None,
        "mutation($e: String!, $p: String!) { register(input: { email: $e, password: $p }) { email } }",
        json!({ "e": email, "p": PASSWORD }),
    )
    .await;
    let data = gql(
        server,
        None,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id } } }",
        json!({ "e": email, "p": PASSWORD }),
    )
    .await;
    let payload = &data["login"];
    (
        payload["user"]["id"].as_str().expect("id").to_owned(),
        payload["accessToken"].as_str().expect("token").to_owned(),
    )
}

/// Makes each user (token, email) a manager of a new profile of `owner`'s by invitation, so
/// that the owner sees them and may add them to other profiles directly.
async fn acquaint(server: &str, owner: &str, users: &[(&str, &str)]) {
    let club = gql(
        server,
        Some(owner),
        r#"mutation { createProfile(name: "Acquaintances") { id } }"#,
        json!({}),
    )
    .await["createProfile"]["id"]
        .clone();
    for (token, email) in users {
        let sent = gql(
            server,
            Some(owner),
            "mutation($p: ID!, $e: String!) {
                inviteProfileManager(profileId: $p, email: $e) { invitation { id } }
            }",
            json!({ "p": club, "e": email }),
        )
        .await;
        let invitation = &sent["inviteProfileManager"]["invitation"]["id"];
        gql(
            server,
            Some(token),
            "mutation($i: ID!) { acceptProfileInvitation(id: $i) { changed } }",
            json!({ "i": invitation }),
        )
        .await;
    }
}

/// Two replicas on one PostgreSQL database; one server on SQLite (one process).
async fn replicas(
    backend: Backend,
    env: &[(&str, &str)],
) -> (TestDatabase, ServerProcess, Option<ServerProcess>) {
    let database = TestDatabase::create(backend).await;
    match backend {
        // Started together on an empty database: both migrate it at once.
        Backend::Postgres => {
            let (a, b) = tokio::join!(
                ServerProcess::start(&database.url, env),
                ServerProcess::start(&database.url, env)
            );
            (database, a, Some(b))
        }
        Backend::Sqlite => {
            let a = ServerProcess::start(&database.url, env).await;
            (database, a, None)
        }
    }
}

const ON_PROFILE: &str = "subscription($p: ID!) { profileMembershipChanged(profileId: $p) { kind role at userId user { email } profile { name } } }";
const MINE: &str =
    "subscription { myProfilesChanged { kind role userId user { email } profile { name } } }";
const SET: &str = "mutation($p: ID!, $u: ID!, $r: ProfileRole!) { addProfileManager(profileId: $p, userId: $u, role: $r) { changed } }";
const REMOVE: &str =
    "mutation($p: ID!, $u: ID!) { removeProfileManager(profileId: $p, userId: $u) { changed } }";

async fn events_reach_subscribers_on_every_replica(backend: Backend) {
    let (_database, a, b) = replicas(backend, &[]).await;
    let b_url = b.as_ref().map_or(a.url.clone(), |b| b.url.clone());
    let (ann_id, ann) = register(&a.url, "ann@example.com").await;
    let (bob_id, bob) = register(&a.url, "bob@example.com").await;
    let bob_id_ = bob_id.clone();
    let (carol_id, carol) = register(&a.url, "carol@example.com").await;
    let (dave_id, dave) = register(&a.url, "dave@example.com").await;
    let others = [
        (bob.as_str(), "bob@example.com"),
        (carol.as_str(), "carol@example.com"),
        (dave.as_str(), "dave@example.com"),
    ];
    acquaint(&a.url, &ann, &others).await;
    let team = gql(
        &a.url,
        Some(&ann),
        "mutation { createProfile(name: \"Team\") { id } }",
        json!({}),
    )
    .await["createProfile"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // Subscribers on replica B; changes through replica A.
    let mut owner = Client::with_token(&b_url, &ann).await;
    owner
        .subscribe("team", ON_PROFILE, json!({ "p": team }))
        .await;
    let mut bobs = Client::with_token(&b_url, &bob).await;
    bobs.subscribe("mine", MINE, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    gql(
        &a.url,
        Some(&ann),
        SET,
        json!({ "p": team, "u": bob_id, "r": "MANAGER" }),
    )
    .await;
    gql(
        &a.url,
        Some(&ann),
        SET,
        json!({ "p": team, "u": carol_id, "r": "MANAGER" }),
    )
    .await;
    let mut carols = Client::with_token(&b_url, &carol).await;
    carols
        .subscribe("team", ON_PROFILE, json!({ "p": team }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    gql(
        &a.url,
        Some(&ann),
        SET,
        json!({ "p": team, "u": carol_id, "r": "OWNER" }),
    )
    .await;
    gql(
        &a.url,
        Some(&ann),
        REMOVE,
        json!({ "p": team, "u": carol_id }),
    )
    .await;
    gql(
        &a.url,
        Some(&ann),
        REMOVE,
        json!({ "p": team, "u": bob_id }),
    )
    .await;
    // Refused (Ann is the last owner) and unchanged changes send nothing.
    let last_owner = answer(
        &a.url,
        Some(&ann),
        REMOVE,
        json!({ "p": team, "u": ann_id }),
    )
    .await;
    assert_eq!(
        last_owner["errors"][0]["extensions"]["code"], "CONFLICT",
        "{last_owner}"
    );
    gql(
        &a.url,
        Some(&ann),
        REMOVE,
        json!({ "p": team, "u": bob_id }),
    )
    .await;
    gql(
        &a.url,
        Some(&ann),
        SET,
        json!({ "p": team, "u": dave_id, "r": "MANAGER" }),
    )
    .await;

    let expected_owner = [
        ("ADDED", &bob_id, json!("MANAGER")),
        ("ADDED", &carol_id, json!("MANAGER")),
        ("ROLE_CHANGED", &carol_id, json!("OWNER")),
        ("REMOVED", &carol_id, Value::Null),
        ("REMOVED", &bob_id, Value::Null),
        ("ADDED", &dave_id, json!("MANAGER")),
    ];
    for (kind, user, role) in expected_owner {
        assert_eq!(
            owner.event("team").await,
            (kind.to_owned(), user.clone(), role),
            "owner"
        );
    }
    // Bob sees his own arrival and everything until his removal, then nothing.
    for (kind, user) in [
        ("ADDED", &bob_id_),
        ("ADDED", &carol_id),
        ("ROLE_CHANGED", &carol_id),
        ("REMOVED", &carol_id),
        ("REMOVED", &bob_id_),
    ] {
        let (seen_kind, seen_user, _) = bobs.event("mine").await;
        assert_eq!(
            (seen_kind.as_str(), seen_user.as_str()),
            (kind, user.as_str()),
            "bob"
        );
    }
    assert!(
        bobs.next_within(Duration::from_secs(1)).await.is_none(),
        "bob receives nothing after his removal"
    );
    // Carol's subscription on the profile ends with her removal.
    assert_eq!(carols.event("team").await.0, "ROLE_CHANGED");
    assert_eq!(carols.event("team").await.0, "REMOVED");
    let end = carols.next().await.expect("a message").expect("not closed");
    assert_eq!(end, json!({ "id": "team", "type": "complete" }));
    // Someone who never managed the profile cannot subscribe to it.
    let mut stranger = Client::with_token(&b_url, &bob).await;
    stranger
        .subscribe("team", ON_PROFILE, json!({ "p": team }))
        .await;
    let refused = stranger
        .next()
        .await
        .expect("an answer")
        .expect("not closed");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
    let end = stranger
        .next()
        .await
        .expect("a message")
        .expect("not closed");
    assert_eq!(end["type"], "complete");
}

async fn expired_and_revoked_tokens_close_the_connection(backend: Backend) {
    let (_database, a, b) = replicas(backend, &[("ACCESS_TOKEN_TTL", "2s")]).await;
    let b_url = b.as_ref().map_or(a.url.clone(), |b| b.url.clone());
    let (_, ann) = register(&a.url, "ann@example.com").await;
    let mut expiring = Client::with_token(&b_url, &ann).await;
    expiring.subscribe("mine", MINE, json!({})).await;
    let closed = expiring
        .next_within(Duration::from_secs(5))
        .await
        .expect("closed in time");
    assert_eq!(
        closed.err().map(|(code, _)| code),
        Some(4403),
        "closed with Forbidden when the token expires"
    );

    let (_, bob) = register(&a.url, "bob@example.com").await;
    let mut revoked = Client::with_token(&b_url, &bob).await;
    revoked.subscribe("mine", MINE, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    gql(
        &a.url,
        Some(&bob),
        "mutation { logoutEverywhere }",
        json!({}),
    )
    .await;
    let closed = revoked
        .next_within(Duration::from_secs(1))
        .await
        .expect("closed at once");
    let (code, reason) = closed.expect_err("a close frame");
    assert_eq!(code, 4403);
    assert!(reason.contains("revoked"), "{reason}");
}

async fn connections_and_subscriptions_are_bounded(backend: Backend) {
    let env = [
        ("MAX_CONNECTIONS_PER_USER", "2"),
        ("MAX_SUBSCRIPTIONS_PER_CONNECTION", "2"),
    ];
    let (_database, a, _b) = replicas(backend, &env).await;
    let (_, ann) = register(&a.url, "ann@example.com").await;
    // Without a valid token: Forbidden.
    for payload in [json!({}), json!({ "Authorization": "Bearer forged" })] {
        match Client::connect(&a.url, payload).await {
            Outcome::Closed(code, _) => assert_eq!(code, 4403),
            Outcome::Acknowledged(_) => panic!("a connection without a valid token"),
        }
    }
    let mut first = Client::with_token(&a.url, &ann).await;
    let _second = Client::with_token(&a.url, &ann).await;
    match Client::connect(&a.url, json!({ "token": ann })).await {
        Outcome::Closed(code, reason) => {
            assert_eq!((code, reason.contains("too many")), (4403, true))
        }
        Outcome::Acknowledged(_) => panic!("a third connection of one user"),
    }
    first.subscribe("1", MINE, json!({})).await;
    first.subscribe("2", MINE, json!({})).await;
    first.subscribe("3", MINE, json!({})).await;
    let refused = first.next().await.expect("an answer").expect("not closed");
    assert_eq!(
        (refused["id"].as_str(), refused["type"].as_str()),
        (Some("3"), Some("error")),
        "{refused}"
    );
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    // The limits of queries hold for subscriptions: here, aliases.
    let (_, bob) = register(&a.url, "bob@example.com").await;
    let mut other = Client::with_token(&a.url, &bob).await;
    let aliased = format!(
        "subscription {{ myProfilesChanged {{ {} }} }}",
        (0..51)
            .map(|i| format!("k{i}: kind"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    other.subscribe("wide", &aliased, json!({})).await;
    let refused = other.next().await.expect("an answer").expect("not closed");
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    // A message has the limit of a request body (MAX_BODY_BYTES, 256 KiB): a larger one closes
    // the connection with "message too big" before it is read whole.
    let padding = " ".repeat(1024 * 1024);
    let message = json!({ "id": "big", "type": "subscribe", "payload": { "query": format!("subscription {{ myProfilesChanged {{ kind }} }}{padding}") } });
    let _ = other.socket.send(Message::text(message.to_string())).await;
    let closed = other.next().await.expect("an answer");
    assert_eq!(closed.map_err(|(code, _)| code), Err(1009));
}

async fn stopping_replicas_send_subscribers_away(backend: Backend) {
    let (_database, mut a, b) = replicas(backend, &[]).await;
    let (_, ann) = register(&a.url, "ann@example.com").await;
    let mut client = Client::with_token(&a.url, &ann).await;
    client.subscribe("1", MINE, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    a.terminate();
    // "Going away": graphql-ws clients reconnect, to a replica still running.
    let closed = client.next().await.expect("an answer");
    assert_eq!(closed.map_err(|(code, _)| code), Err(1001));
    let status = a.exit_status(Duration::from_secs(15)).await;
    assert!(status.success(), "exits 0 after SIGTERM: {status:?}");
    if let Some(b) = b {
        let mut again = Client::with_token(&b.url, &ann).await;
        again.subscribe("1", MINE, json!({})).await;
        assert!(
            again
                .next_within(Duration::from_millis(300))
                .await
                .is_none()
        );
    }
}

/// PostgreSQL only: SQLite's events never leave the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_listen_again_after_losing_the_connection() {
    let database = TestDatabase::create(Backend::Postgres).await;
    let server = ServerProcess::start(&database.url, &[]).await;
    let (_, ann) = register(&server.url, "ann@example.com").await;
    let mut client = Client::with_token(&server.url, &ann).await;
    client.subscribe("1", MINE, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let sql = sea_orm::Database::connect(&database.url)
        .await
        .expect("PostgreSQL answers");
    let killed = sea_orm::ConnectionTrait::execute_unprepared(
        &sql,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'listen%'",
    )
    .await
    .expect("terminated");
    assert_eq!(killed.rows_affected(), 1, "one listening connection");
    let _ = sql.close().await;

    // Events of the gap are lost to this replica: its subscriptions end, to be made again.
    let ended = client.next().await.expect("an answer").expect("not closed");
    assert_eq!(ended["id"], "1", "{ended}");
    assert_eq!(
        ended["payload"]["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{ended}"
    );
    let complete = client.next().await.expect("an answer").expect("not closed");
    assert_eq!(complete, json!({ "id": "1", "type": "complete" }));
    client.subscribe("2", MINE, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    gql(
        &server.url,
        Some(&ann),
        "mutation { createProfile(name: \"Team\") { id } }",
        json!({}),
    )
    .await;
    let (kind, _, role) = client.event("2").await;
    assert_eq!((kind.as_str(), role), ("ADDED", json!("OWNER")));

    let log = server.stop().await;
    assert!(
        log.contains("lost the connection listening for events"),
        "{log}"
    );
    assert!(log.contains("listening for events again"), "{log}");
}

/// A token revoked through replica A is refused by replica B, which had its caller cached.
async fn revocations_reach_every_replica(backend: Backend) {
    let (_database, a, b) = replicas(backend, &[]).await;
    let b_url = b.as_ref().map_or(a.url.clone(), |b| b.url.clone());
    let (_, ann) = register(&a.url, "ann@example.com").await;
    let me = "{ me { email } }";
    for _ in 0..2 {
        let data = gql(&b_url, Some(&ann), me, json!({})).await;
        assert_eq!(data["me"]["email"], "ann@example.com");
    }

    gql(
        &a.url,
        Some(&ann),
        "mutation { logoutEverywhere }",
        json!({}),
    )
    .await;
    let revoked = Instant::now();
    loop {
        let reply = answer(&b_url, Some(&ann), me, json!({})).await;
        if reply["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "replica B still accepts the revoked token: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn rights_are_read_per_operation_and_subscriptions_end_when_they_change(app: &TestApp) {
    let admin = app.admin().await;
    let frank = app.register("frank@example.com").await;
    app.register("ann@example.com").await;
    let role = |change: &str| {
        format!("mutation($u: ID!) {{ {change}(userId: $u, role: \"admin\") {{ id }} }}")
    };
    app.data_as(&admin.token, &role("grantRole"), json!({ "u": frank.id }))
        .await;
    let mut socket = Client::with_token(&app.url, &frank.token).await;
    let everyone = "{ users(first: 100) { nodes { email } } }";
    let seen = mutate_over(&mut socket, "1", everyone).await;
    assert!(seen.to_string().contains("ann@example.com"), "{seen}");
    socket
        .subscribe(
            "2",
            "subscription { myProfilesChanged { kind } }",
            json!({}),
        )
        .await;

    app.data_as(&admin.token, &role("revokeRole"), json!({ "u": frank.id }))
        .await;
    // An operation started now runs with the rights Frank has now; and the connection ends,
    // with the subscription that started with the old ones.
    socket.subscribe("3", everyone, json!({})).await;
    let closed = loop {
        match socket.next().await.expect("an answer or the close") {
            Ok(message) => assert!(
                !message.to_string().contains("ann@example.com"),
                "a revoked right still works on an open socket: {message}"
            ),
            Err(closed) => break closed,
        }
    };
    assert_eq!(closed.0, 4403, "{closed:?}");
}

/// A mutation sent over the socket, and its answer: the result, then `complete`.
async fn mutate_over(client: &mut Client, id: &str, query: &str) -> Value {
    client.subscribe(id, query, json!({})).await;
    let answer = client.next().await.expect("an answer").expect("not closed");
    assert_eq!(
        (&answer["id"], &answer["type"]),
        (&json!(id), &json!("next")),
        "{answer}"
    );
    let complete = client.next().await.expect("complete").expect("not closed");
    assert_eq!(complete, json!({ "id": id, "type": "complete" }));
    answer["payload"].clone()
}

async fn mutations_are_all_or_nothing_over_the_socket_and_for_subscribers(backend: Backend) {
    let (_database, a, _b) = replicas(backend, &[]).await;
    let (ann_id, ann) = register(&a.url, "ann@example.com").await;
    let mut client = Client::with_token(&a.url, &ann).await;
    let failed = mutate_over(
        &mut client,
        "failed",
        r#"mutation { first: createProfile(name: "First") { id } empty: createProfile(name: "") { id } }"#,
    )
    .await;
    assert_eq!(failed["data"], Value::Null, "{failed}");
    assert_eq!(failed["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(failed["errors"][0]["path"], json!(["empty"]));
    let done = mutate_over(
        &mut client,
        "done",
        r#"mutation { createProfile(name: "Team") { name } }"#,
    )
    .await;
    assert_eq!(
        done,
        json!({ "data": { "createProfile": { "name": "Team" } } })
    );
    let mine = gql(
        &a.url,
        Some(&ann),
        "{ me { profiles { nodes { name } } } }",
        json!({}),
    )
    .await;
    assert_eq!(mine["me"]["profiles"]["nodes"], json!([{ "name": "Team" }]));

    // A request rolled back publishes nothing: the first event is the next request's.
    let profile = gql(
        &a.url,
        Some(&ann),
        r#"mutation { createProfile(name: "Club") { id } }"#,
        json!({}),
    )
    .await["createProfile"]["id"]
        .clone();
    let (bob, bob_token) = register(&a.url, "bob@example.com").await;
    let (carol, carol_token) = register(&a.url, "carol@example.com").await;
    let others = [
        (bob_token.as_str(), "bob@example.com"),
        (carol_token.as_str(), "carol@example.com"),
    ];
    acquaint(&a.url, &ann, &others).await;
    client
        .subscribe("events", ON_PROFILE, json!({ "p": profile }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let failed = answer(
        &a.url,
        Some(&ann),
        "mutation($p: ID!, $bob: ID!, $ann: ID!) {
            add: addProfileManager(profileId: $p, userId: $bob) { changed }
            leave: removeProfileManager(profileId: $p, userId: $ann) { changed }
        }",
        json!({ "p": profile, "bob": bob, "ann": ann_id }),
    )
    .await;
    assert_eq!(
        failed["errors"][0]["extensions"]["code"], "CONFLICT",
        "{failed}"
    );
    gql(
        &a.url,
        Some(&ann),
        SET,
        json!({ "p": profile, "u": carol, "r": "MANAGER" }),
    )
    .await;
    let (kind, user, _) = client.event("events").await;
    assert_eq!((kind.as_str(), user), ("ADDED", carol));
}

async fn events_are_answered_as_the_specification_executes_them(backend: Backend) {
    let (_database, a, _b) = replicas(backend, &[]).await;
    let (_, ann) = register(&a.url, "ann@example.com").await;
    let (bob, bob_token) = register(&a.url, "bob@example.com").await;
    acquaint(&a.url, &ann, &[(&bob_token, "bob@example.com")]).await;
    let profile = gql(
        &a.url,
        Some(&ann),
        r#"mutation { createProfile(name: "Team") { id } }"#,
        json!({}),
    )
    .await["createProfile"]["id"]
        .clone();
    let mut client = Client::with_token(&a.url, &ann).await;
    // Fragments and the same fields twice merge; a skipped field and an empty selection stay
    // out; keys come in the order of the document.
    let query = "subscription($p: ID!, $v: Boolean!) {
        profileMembershipChanged(profileId: $p) {
            ...A kind @skip(if: $v) user { email } user { id } profile { ... on Profile { name } id }
            at @skip(if: $v) user @skip(if: $v) { id }
        }
    }
    fragment A on MembershipEvent { role profile { id } }";
    client
        .subscribe("merged", query, json!({ "p": profile, "v": true }))
        .await;
    // Variables are coerced before the subscription starts: a bad one is refused at once.
    client
        .subscribe("refused", query, json!({ "p": profile, "v": "yes" }))
        .await;
    let refused: Value = serde_json::from_str(&client.next_text().await).expect("JSON");
    assert_eq!(refused["id"], "refused", "{refused}");
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    gql(
        &a.url,
        Some(&ann),
        SET,
        json!({ "p": profile, "u": bob, "r": "MANAGER" }),
    )
    .await;
    let event = client.next_text().await;
    let expected = format!(
        r#"{{"profileMembershipChanged":{{"role":"MANAGER","profile":{{"id":{profile},"name":"Team"}},"user":{{"email":"bob@example.com","id":"{bob}"}}}}}}"#
    );
    assert!(event.contains(&format!(r#""data":{expected}"#)), "{event}");
}

/// Ann, subscribed on replica B, hears of every change of the invitations sent to her address
/// through replica A, and of nothing else; Carol, subscribed too, hears nothing.
async fn invitees_hear_of_their_invitations_on_every_replica(backend: Backend) {
    let (_database, a, b) = replicas(backend, &[]).await;
    let b_url = b.as_ref().map_or(a.url.clone(), |b| b.url.clone());
    let (_, owner) = register(&a.url, "owner@example.com").await;
    let (_, ann) = register(&a.url, "ann@example.com").await;
    let (_, carol) = register(&a.url, "carol@example.com").await;
    let team = gql(
        &a.url,
        Some(&owner),
        r#"mutation { createProfile(name: "Team") { id } }"#,
        json!({}),
    )
    .await["createProfile"]["id"]
        .clone();
    let subscription = "subscription { myInvitationsChanged {
        kind invitationId invitation { profileName role }
    } }";
    let mut anns = Client::with_token(&b_url, &ann).await;
    anns.subscribe("mine", subscription, json!({})).await;
    let mut carols = Client::with_token(&b_url, &carol).await;
    carols.subscribe("mine", subscription, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let invite = |email: &'static str, role: &'static str| {
        let (server, owner, team) = (a.url.clone(), owner.clone(), team.clone());
        async move {
            gql(
                &server,
                Some(&owner),
                "mutation($p: ID!, $e: String!, $r: ProfileRole!) {
                    inviteProfileManager(profileId: $p, email: $e, role: $r) { invitation { id } }
                }",
                json!({ "p": team, "e": email, "r": role }),
            )
            .await["inviteProfileManager"]["invitation"]["id"]
                .clone()
        }
    };
    let pending = |role: &str| json!({ "profileName": "Team", "role": role });
    // Each event is read before the next change: its invitation is read as it is when sent.
    let mut hears = async |kind: &str, id: &Value, invitation: Value| {
        let message = anns.next().await.expect("an event").expect("not closed");
        assert_eq!(
            message["payload"]["data"]["myInvitationsChanged"],
            json!({ "kind": kind, "invitationId": id, "invitation": invitation }),
            "{message}"
        );
    };
    let first = invite("Ann@example.com", "MANAGER").await;
    hears("SENT", &first, pending("MANAGER")).await;
    invite("bob@example.com", "MANAGER").await;
    invite("ann@example.com", "OWNER").await;
    hears("SENT", &first, pending("OWNER")).await;
    gql(
        &a.url,
        Some(&owner),
        "mutation($i: ID!) { revokeProfileInvitation(id: $i) { invitationId } }",
        json!({ "i": first }),
    )
    .await;
    hears("REVOKED", &first, Value::Null).await;
    let second = invite("ann@example.com", "MANAGER").await;
    hears("SENT", &second, pending("MANAGER")).await;
    gql(
        &a.url,
        Some(&ann),
        "mutation($i: ID!) { declineProfileInvitation(id: $i) { invitationId } }",
        json!({ "i": second }),
    )
    .await;
    hears("DECLINED", &second, Value::Null).await;
    assert!(
        carols
            .next_within(Duration::from_millis(300))
            .await
            .is_none(),
        "Carol hears of nobody else's invitations"
    );
}

/// A client offering both subprotocols (legacy first) is told `graphql-transport-ws` and
/// spoken to in it; a client's Close frame is answered with one (RFC 6455 §5.5.1), not dropped.
async fn one_subprotocol_is_negotiated_and_spoken_and_close_frames_are_answered(app: &TestApp) {
    use tokio_tungstenite::tungstenite::protocol::{CloseFrame, frame::coding::CloseCode};
    let ann = app.register("ann@example.com").await;
    let url = format!("{}/graphql", app.url.replace("http://", "ws://"));
    for offered in [
        "graphql-ws, graphql-transport-ws",
        "graphql-transport-ws, graphql-ws",
    ] {
        let mut request = url.clone().into_client_request().expect("a request");
        let header = offered.parse().expect("a header");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", header);
        let (mut socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the server upgrades");
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws",
            "{offered}"
        );
        let init = json!({ "type": "connection_init",
                           "payload": { "Authorization": format!("Bearer {}", ann.token) } });
        socket
            .send(Message::text(init.to_string()))
            .await
            .expect("sent");
        let ack = socket
            .next()
            .await
            .expect("a message")
            .expect("not an error");
        assert_eq!(
            ack.to_text().ok(),
            Some(r#"{"type":"connection_ack"}"#),
            "{offered}"
        );
        // `subscribe` and `next` are graphql-transport-ws's (the legacy protocol has `start`
        // and `data`).
        let query = json!({ "id": "1", "type": "subscribe",
                            "payload": { "query": "{ me { email } }" } });
        socket
            .send(Message::text(query.to_string()))
            .await
            .expect("sent");
        let next = socket
            .next()
            .await
            .expect("a message")
            .expect("not an error");
        let next: Value = serde_json::from_str(next.to_text().expect("text")).expect("JSON");
        assert_eq!(
            next,
            json!({ "id": "1", "type": "next",
                    "payload": { "data": { "me": { "email": "ann@example.com" } } } }),
            "{offered}"
        );
        let complete = socket
            .next()
            .await
            .expect("a message")
            .expect("not an error");
        let complete: Value =
            serde_json::from_str(complete.to_text().expect("text")).expect("JSON");
        assert_eq!(complete, json!({ "id": "1", "type": "complete" }));

        let close = CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        socket
            .send(Message::Close(Some(close)))
            .await
            .expect("sent");
        let answer = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("an answer within 5 s");
        match answer {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Normal),
            other => panic!("the Close frame is answered with one: {other:?}"),
        }
    }
}

/// With `PERSISTED_DOCUMENTS_ONLY`, a subscription is named by its id in the payload (as over
/// HTTP) and runs; one sent as text is refused with the same code as over HTTP.
async fn trusted_documents_are_subscribed_by_id_and_others_refused(app: &TestApp) {
    let folder = tempfile::tempdir().expect("a folder");
    let manifest = folder.path().join("persisted-documents.json");
    let subscription = "subscription Mine { myProfilesChanged { kind profile { name } } }";
    let create = "mutation Create($name: String!) { createProfile(name: $name) { id } }";
    let documents = json!({ "mine": subscription, "create": create });
    std::fs::write(&manifest, documents.to_string()).expect("written");
    let trusted = TestApp::spawn_at(app.backend, app.database_url(), |config| {
        config.persisted_documents = Some(manifest);
        config.persisted_documents_only = true;
    })
    .await;
    let ann = app.register("ann@example.com").await;
    let mut client = Client::with_token(&trusted.url, &ann.token).await;
    client
        .subscribe_to("by-id", json!({ "documentId": "mine" }))
        .await;
    client
        .subscribe_to(
            "by-text",
            json!({ "query": "subscription { myProfilesChanged { kind } }" }),
        )
        .await;
    let refused = client.next().await.expect("an answer").expect("open");
    assert_eq!(refused["id"], "by-text", "{refused}");
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "PERSISTED_DOCUMENTS_ONLY"
    );
    let created = trusted
        .client()
        .post(format!("{}/graphql", trusted.url))
        .bearer_auth(&ann.token)
        .json(&json!({ "documentId": "create", "variables": { "name": "Team" } }))
        .send()
        .await
        .expect("answers");
    assert_eq!(created.status(), 200);
    let event = client.next().await.expect("an event").expect("open");
    assert_eq!(event["id"], "by-id", "{event}");
    assert_eq!(
        event["payload"]["data"]["myProfilesChanged"],
        json!({ "kind": "ADDED", "profile": { "name": "Team" } })
    );
    trusted.stop().await;
}

/// With a standby serving queries (its replay paused here), subscriptions read their events
/// from the primary, and every request's caller is checked on the primary: a session ended a
/// moment ago is refused though the standby still holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_and_callers_stay_on_the_primary_with_a_standby() {
    let standby = crate::standby::Standby::start().await;
    let app = TestApp::spawn_with(Backend::Postgres, |config| {
        config.database_read_url =
            vec![standby.url(&crate::reads::database_of(&config.database_url))];
        config.read_after_write_window = Duration::ZERO;
        config.read_replica_max_lag = Duration::from_secs(60);
    })
    .await;
    crate::reads::health_when(&app, true).await;
    let owner = app.register("owner@example.com").await;
    let ann = app.register("ann@example.com").await;
    let other_session = app.login("ann@example.com", PASSWORD).await;
    let other_session = crate::helpers::account(&other_session.body["data"]["login"]);
    let team = app.create_profile(&owner, "Team").await;
    standby
        .pause(&crate::reads::database_of(app.database_url()))
        .await;

    let mut anns = Client::with_token(&app.url, &ann.token).await;
    anns.subscribe(
        "mine",
        "subscription { myInvitationsChanged { kind invitation { profileName role } } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.invite(&owner, &team, "ann@example.com", "MANAGER")
        .await;
    let event = anns.next().await.expect("an event").expect("not closed");
    assert_eq!(
        event["payload"]["data"]["myInvitationsChanged"],
        json!({ "kind": "SENT", "invitation": { "profileName": "Team", "role": "MANAGER" } }),
        "the invitation, which the paused standby does not have: {event}"
    );

    let ended = app
        .gql_as(&ann.token, "mutation { logoutEverywhere }", json!({}))
        .await;
    assert!(ended.errors().is_empty(), "{}", ended.body);
    let refused = app
        .gql_as(&other_session.token, "{ me { email } }", json!({}))
        .await;
    assert_eq!(refused.code(), "UNAUTHENTICATED", "{}", refused.body);
    app.stop().await;
}
