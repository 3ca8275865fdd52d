//! GraphQL subscriptions over WebSocket (`graphql-transport-ws`, and the older `graphql-ws`)
//! at `/graphql`: authenticated by the access token of `connection_init`, bounded per
//! connection and per user, pinged when idle, and closed when the token expires or is revoked.
//! Mutations sent over the socket run as over HTTP: in one transaction per request.

use std::{collections::HashSet, sync::Arc, time::Duration};

use async_graphql::{Data, http::WebSocketProtocols, parser::types::OperationType};
use axum::{
    extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket},
    http::{HeaderMap, header},
};
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{broadcast::error::RecvError, mpsc};

use super::AppState;
use crate::{
    auth::{Auth, Credentials},
    events::Event,
    exec::{self, Caller, Stop},
};

/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The close codes of the protocol.
const UNAUTHORIZED: u16 = 4401;
const FORBIDDEN: u16 = 4403;
const INIT_TIMED_OUT: u16 = 4408;
const SUBSCRIBER_EXISTS: u16 = 4409;
/// WebSocket's "going away": the server stops; clients reconnect, to another replica.
const GOING_AWAY: u16 = 1001;
/// WebSocket's "message too big" (RFC 6455 §7.4.1): a message over the body limit.
const MESSAGE_TOO_BIG: u16 = 1009;
const TOO_BIG_REASON: &str = "the message is larger than MAX_BODY_BYTES";
/// How long a message may wait for the client to read; a client that stops reading is
/// disconnected, not buffered for.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

/// Serves one upgraded connection until it closes.
pub async fn serve(socket: WebSocket, protocol: WebSocketProtocols, state: AppState, ip: String) {
    let (mut sink, mut source) = socket.split();
    let init = tokio::time::timeout(INIT_TIMEOUT, next_text(&mut source)).await;
    if let Ok(Inbound::TooLarge) = init {
        close(&mut sink, MESSAGE_TOO_BIG, TOO_BIG_REASON).await;
        return;
    }
    let Ok(Inbound::Text(init)) = init else {
        close(
            &mut sink,
            INIT_TIMED_OUT,
            "Connection initialisation timeout",
        )
        .await;
        return;
    };
    let init_value: Value = serde_json::from_str(&init).unwrap_or(Value::Null);
    if init_value["type"] != "connection_init" {
        close(&mut sink, UNAUTHORIZED, "Unauthorized").await;
        return;
    }
    let authorization = authorization(&init_value["payload"]);
    let auth = state.accounts.authenticate(authorization.as_deref()).await;
    let Auth::User(viewer) = &auth else {
        close(
            &mut sink,
            FORBIDDEN,
            "Forbidden: send a valid access token in connection_init",
        )
        .await;
        return;
    };
    let me = viewer.id();
    let Some(_slot) = Slot::take(&state, me) else {
        close(&mut sink, FORBIDDEN, "Forbidden: too many connections").await;
        return;
    };
    let expires = authorization
        .as_deref()
        .and_then(|header| state.accounts.token_expiry(header));

    let rights = viewer.clone();
    let credentials = Arc::new(Credentials::checked(
        state.accounts.clone(),
        authorization.clone(),
        auth,
    ));
    let data: Data = exec::connection_data(&state, credentials, ip.clone());
    // The answers of mutations, each run as a task of its own.
    let (answers, mut answered) = mpsc::channel::<(String, Vec<Message>)>(16);
    let (inbound, mut inbound_rx) = mpsc::channel::<String>(16);
    let _ = inbound.send(init).await;
    let messages = futures_util::stream::poll_fn(move |cx| inbound_rx.poll_recv(cx));
    let executor = exec::Subscriptions(state.clone());
    let mut graphql =
        async_graphql::http::WebSocket::new(executor, messages, protocol).connection_data(data);

    let mut accounts = state.db.events().subscribe();
    let mut ping = tokio::time::interval(state.config.ws_ping_interval);
    ping.reset();
    let until_expiry = expires.map_or(Duration::MAX, |at| {
        (at - Utc::now()).to_std().unwrap_or_default()
    });
    let expiry = tokio::time::sleep(until_expiry.min(Duration::from_secs(60 * 60 * 24 * 365)));
    tokio::pin!(expiry);
    let mut active: HashSet<String> = HashSet::new();
    let cap = state.config.max_subscriptions_per_connection;
    let mut stopping = state.stopping.subscribe();

    loop {
        tokio::select! {
            () = async { drop(stopping.wait_for(|stopping| *stopping).await) } => {
                close(&mut sink, GOING_AWAY, "the server is shutting down").await;
                break;
            }
            message = next_text(&mut source) => {
                let text = match message {
                    Inbound::Text(text) => text,
                    Inbound::TooLarge => {
                        close(&mut sink, MESSAGE_TOO_BIG, TOO_BIG_REASON).await;
                        break;
                    }
                    Inbound::Closed => {
                        // The client's Close frame is answered (RFC 6455 §5.5.1): the reply
                        // queued on receipt is flushed by closing.
                        let _ = tokio::time::timeout(SEND_TIMEOUT, sink.close()).await;
                        break;
                    }
                };
                let mut value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let id = value["id"].as_str().unwrap_or_default().to_owned();
                let kind = value["type"].as_str().map(str::to_owned);
                let starts = matches!(kind.as_deref(), Some("subscribe" | "start"));
                // async-graphql reads the payload as its own request, which has no place for
                // a persisted document's id: it is given the request the id makes.
                if starts && let Some(request) = as_request(&value["payload"]) {
                    value["payload"] = request;
                }
                let text = if starts { value.to_string() } else { text };
                if starts && !active.contains(&id) && active.len() >= cap {
                    let message = format!("at most {cap} subscriptions per connection");
                    if !send(&mut sink, refused(&id, &exec::error_body("LIMIT_EXCEEDED", &message))).await { break; }
                    continue;
                }
                let prepared = if starts { Some(prepare(&state, &value["payload"]).await) } else { None };
                match prepared {
                    Some(Err(body)) => {
                        if !send(&mut sink, refused(&id, &body)).await { break; }
                        continue;
                    }
                    Some(Ok(OperationType::Mutation)) => {
                        if !active.insert(id.clone()) {
                            close(&mut sink, SUBSCRIBER_EXISTS, &format!("Subscriber for {id} already exists")).await;
                            break;
                        }
                        let caller = Caller {
                            authorization: authorization.clone(),
                            ip: ip.clone(),
                            consistency_token: None,
                        };
                        let payload = value["payload"].clone();
                        tokio::spawn(mutate(state.clone(), payload, caller, id, protocol, answers.clone()));
                        continue;
                    }
                    Some(Ok(_)) => { active.insert(id); }
                    None if matches!(kind.as_deref(), Some("complete" | "stop")) => { active.remove(&id); }
                    None => {}
                }
                if inbound.send(text).await.is_err() { break; }
            }
            outgoing = graphql.next() => {
                match outgoing {
                    Some(async_graphql::http::WsMessage::Text(text)) => {
                        if let Ok(value) = serde_json::from_str::<Value>(&text)
                            && matches!(value["type"].as_str(), Some("complete" | "error"))
                            && let Some(id) = value["id"].as_str()
                        {
                            active.remove(id);
                        }
                        if !send(&mut sink, Message::Text(text.into())).await { break; }
                    }
                    Some(async_graphql::http::WsMessage::Close(code, reason)) => {
                        close(&mut sink, code, &reason).await;
                        break;
                    }
                    None => break,
                }
            }
            Some((id, messages)) = answered.recv() => {
                active.remove(&id);
                let mut sent = true;
                for message in messages {
                    sent = sent && send(&mut sink, message).await;
                }
                if !sent { break; }
            }
            () = &mut expiry => {
                close(&mut sink, FORBIDDEN, "Forbidden: the access token expired").await;
                break;
            }
            event = accounts.recv() => {
                let changed = match event {
                    Ok(Event::Account { user_id }) => user_id == me,
                    // Missed events may have been about this account: check it again.
                    Ok(Event::Missed) | Err(RecvError::Lagged(_)) => true,
                    Ok(Event::Membership(_) | Event::Invitation(_) | Event::Card { .. } | Event::Mail) => false,
                    Err(RecvError::Closed) => break,
                };
                if changed {
                    match state.accounts.authenticate(authorization.as_deref()).await {
                        Auth::User(now) if now.same_rights(&rights) => {}
                        // Subscriptions run with the rights they started with: they end, and
                        // the client subscribes again with the rights it has now.
                        Auth::User(_) => {
                            close(&mut sink, FORBIDDEN, "Forbidden: the account's rights changed; connect again").await;
                            break;
                        }
                        _ => {
                            close(&mut sink, FORBIDDEN, "Forbidden: the access token was revoked").await;
                            break;
                        }
                    }
                }
            }
            _ = ping.tick() => {
                if !send(&mut sink, Message::Ping(Vec::new().into())).await { break; }
            }
        }
    }
}

/// What the client sent next.
enum Inbound {
    Text(String),
    /// A message over `MAX_BODY_BYTES`, refused before it was read whole.
    TooLarge,
    /// The client closed the connection, or broke it.
    Closed,
}

/// The next text message of the client.
async fn next_text(source: &mut futures_util::stream::SplitStream<WebSocket>) -> Inbound {
    while let Some(message) = source.next().await {
        match message {
            Ok(Message::Text(text)) => return Inbound::Text(text.to_string()),
            Ok(Message::Binary(bytes)) => {
                return String::from_utf8(bytes.to_vec()).map_or(Inbound::Closed, Inbound::Text);
            }
            Ok(Message::Close(_)) => return Inbound::Closed,
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Err(err) => {
                let too_large = err
                    .into_inner()
                    .downcast::<tungstenite::Error>()
                    .is_ok_and(|err| matches!(*err, tungstenite::Error::Capacity(_)));
                return if too_large {
                    Inbound::TooLarge
                } else {
                    Inbound::Closed
                };
            }
        }
    }
    Inbound::Closed
}

/// Sends `message`; false when the client is gone or has not read it within `SEND_TIMEOUT`.
async fn send(sink: &mut Sink, message: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await,
        Ok(Ok(()))
    )
}

async fn close(sink: &mut Sink, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    };
    if send(sink, Message::Close(Some(frame))).await {
        let _ = tokio::time::timeout(SEND_TIMEOUT, sink.close()).await;
    }
}

/// The subprotocol to speak of those `Sec-WebSocket-Protocol` offers: `graphql-transport-ws`
/// when offered, else the legacy `graphql-ws`. The handshake names this one, and no other.
pub fn protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    let offered: Vec<WebSocketProtocols> = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .filter_map(|offered| offered.trim().parse().ok())
        .collect();
    offered
        .iter()
        .find(|protocol| **protocol == WebSocketProtocols::GraphQLWS)
        .or(offered.first())
        .copied()
}

/// A subscribe message's payload as the request the engine reads, when it is one.
fn as_request(payload: &Value) -> Option<Value> {
    let sent = serde_json::from_value::<exec::Sent>(payload.clone()).ok()?;
    serde_json::to_value(async_graphql::Request::from(sent)).ok()
}

/// The kind of the operation of a subscribe message's payload, when it may run; the body of
/// its request error otherwise (it is checked again when it runs).
async fn prepare(state: &AppState, payload: &Value) -> Result<OperationType, Vec<u8>> {
    let request = serde_json::from_value::<exec::Sent>(payload.clone())
        .map_err(|_| exec::error_body("BAD_REQUEST", "the payload is not a GraphQL request"))?;
    match exec::prepare(state, request.into(), false).await {
        Ok(prepared) => Ok(prepared.kind),
        Err(Stop::Refused { errors, .. }) => Err(exec::request_error(&errors)),
        Err(Stop::MutationNotAllowed) => Ok(OperationType::Mutation),
    }
}

/// Runs a mutation sent over the socket as one sent over HTTP is run (one transaction, the
/// same admission, timeout and metrics), and answers it with its result (`next`, or `data` in
/// the older protocol), then `complete`.
async fn mutate(
    state: AppState,
    payload: Value,
    caller: Caller,
    id: String,
    protocol: WebSocketProtocols,
    answers: mpsc::Sender<(String, Vec<Message>)>,
) {
    let body = match serde_json::from_value::<exec::Sent>(payload) {
        Ok(request) => match exec::run(&state, request.into(), caller, false).await {
            Ok(executed) => executed.body,
            Err(_) => exec::error_body("INTERNAL_SERVER_ERROR", "internal error"),
        },
        Err(_) => exec::error_body("BAD_REQUEST", "the payload is not a GraphQL request"),
    };
    let kind = match protocol {
        WebSocketProtocols::GraphQLWS => "next",
        _ => "data",
    };
    let quoted_id = serde_json::to_string(&id).unwrap_or_default();
    let result = format!(
        r#"{{"id":{quoted_id},"type":"{kind}","payload":{}}}"#,
        String::from_utf8_lossy(&body)
    );
    let complete = json!({ "id": id, "type": "complete" }).to_string();
    let messages = vec![Message::Text(result.into()), Message::Text(complete.into())];
    let _ = answers.send((id, messages)).await;
}

/// The protocol's `error` message for subscription `id`, refused before it ran with the
/// request error `body`.
fn refused(id: &str, body: &[u8]) -> Message {
    let errors = serde_json::from_slice::<Value>(body)
        .map(|body| body["errors"].clone())
        .unwrap_or_default();
    Message::Text(
        json!({ "id": id, "type": "error", "payload": errors })
            .to_string()
            .into(),
    )
}

/// The value of an `Authorization` key, in any case, of a JSON object.
fn header_in(object: &Value) -> Option<&str> {
    object.as_object()?.iter().find_map(|(key, value)| {
        key.eq_ignore_ascii_case("authorization")
            .then(|| value.as_str())
            .flatten()
    })
}

/// The `Authorization` value of a `connection_init` payload: `{"Authorization": "Bearer …"}`,
/// the same under `headers`, or `{"token": "…"}`.
fn authorization(payload: &Value) -> Option<String> {
    if let Some(value) = header_in(payload).or_else(|| header_in(&payload["headers"])) {
        return Some(value.to_owned());
    }
    let token = payload["token"].as_str()?;
    Some(if token.contains(' ') {
        token.to_owned()
    } else {
        format!("Bearer {token}")
    })
}

/// One of a user's connections on this replica, given back when dropped.
struct Slot {
    state: AppState,
    user: i64,
}

impl Slot {
    fn take(state: &AppState, user: i64) -> Option<Slot> {
        let mut connections = state.connections.lock().ok()?;
        let count = connections.entry(user).or_default();
        if *count >= state.config.max_connections_per_user {
            return None;
        }
        *count += 1;
        Some(Slot {
            state: state.clone(),
            user,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut connections) = self.state.connections.lock()
            && let Some(count) = connections.get_mut(&self.user)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                connections.remove(&self.user);
            }
        }
    }
}
