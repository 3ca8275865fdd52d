//! `GET /health`: 200 when the database answers, 503 when it does not; with standbys, which
//! ones serve reads (a standby never makes the answer 503).

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use super::AppState;

const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match tokio::time::timeout(PING_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => {
            let mut body = json!({ "status": "ok" });
            if let Some(standbys) = state.db.standbys() {
                let states: Vec<Value> = standbys
                    .states()
                    .into_iter()
                    .map(|s| json!({ "name": s.name, "inUse": s.in_use, "lagSeconds": if s.lag_seconds.is_finite() { json!(s.lag_seconds) } else { Value::Null } }))
                    .collect();
                body["standbys"] = Value::Array(states);
            }
            (StatusCode::OK, Json(body))
        }
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "health check: database does not answer");
            unavailable()
        }
        Err(_) => {
            tracing::warn!("health check: database ping timed out");
            unavailable()
        }
    }
}

fn unavailable() -> (StatusCode, Json<Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable" })),
    )
}
