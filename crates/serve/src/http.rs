//! The HTTP endpoints (axum):
//!
//! - `POST /agora/ncs` and `POST /agora/ncs/<app>`: a notification, its signature checked
//!   over the raw body before anything else; `200 {}` only after the event is committed to
//!   the state file;
//! - `GET /metrics`: Prometheus text;
//! - `GET /healthz`: the state file answers;
//! - `GET /recordings/<sid>`: the recording's state and reports, JSON;
//! - `GET /recordings`: counts (recordings, events, jobs by state, reports by reason).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::config::Secret;
use crate::db::{Db, Recorded};
use crate::metrics::Metrics;
use crate::ncs::Notification;
use crate::signature;

pub struct AppState {
    pub db: Arc<Db>,
    pub secret: Secret,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/agora/ncs", post(ncs))
        .route("/agora/ncs/{app}", post(ncs_app))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/recordings", get(summary))
        .route("/recordings/{sid}", get(recording))
        .with_state(state)
}

async fn ncs(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(&state, None, peer, &headers, body).await
}

async fn ncs_app(
    State(state): State<Arc<AppState>>,
    Path(app): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    receive(&state, Some(app), peer, &headers, body).await
}

fn json_reply(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn receive(
    state: &AppState,
    app: Option<String>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let verified = signature::check(
        state.secret.expose(),
        &body,
        header_str(signature::HEADER_V2),
        header_str(signature::HEADER_V1),
    );
    if let Err(refusal) = verified {
        state.metrics.notification("bad_signature");
        tracing::warn!(
            %peer,
            signature = refusal.as_str(),
            bytes = body.len(),
            "NCS notification refused: its signature does not verify with the configured secret"
        );
        return json_reply(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "signature missing or wrong" }),
        );
    }
    let notification = match Notification::parse(&body) {
        Ok(n) => n,
        Err(e) => {
            state.metrics.notification("bad_request");
            tracing::warn!(%peer, "NCS notification refused: {e}");
            return json_reply(StatusCode::BAD_REQUEST, json!({ "error": e.to_string() }));
        }
    };
    let event_type = notification.event_type;
    let outcome = state.db.record(app, body, notification).await;
    state
        .metrics
        .notification_seconds
        .observe(started.elapsed().as_secs_f64());
    match outcome {
        Ok(recorded) => {
            let label = match &recorded {
                Recorded::New { enqueued } => {
                    if enqueued.is_some() {
                        let reason = if event_type == crate::ncs::event::BACKUPED {
                            "backuped"
                        } else {
                            "uploaded"
                        };
                        state.metrics.enqueued(reason);
                    }
                    "accepted"
                }
                Recorded::Duplicate => "duplicate",
                Recorded::Ignored => "ignored",
            };
            state.metrics.notification(label);
            json_reply(StatusCode::OK, json!({}))
        }
        Err(e) => {
            // Not recorded, so not acknowledged: Agora sends it again.
            state.metrics.notification("error");
            tracing::error!("NCS notification not recorded: {e}");
            json_reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "not recorded, send again" }),
            )
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state
        .db
        .with(|conn, _| conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)))
        .await
    {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

async fn recording(State(state): State<Arc<AppState>>, Path(sid): Path<String>) -> Response {
    match state.db.recording(sid).await {
        Ok(Some(v)) => json_reply(StatusCode::OK, v),
        Ok(None) => json_reply(
            StatusCode::NOT_FOUND,
            json!({ "error": "no event about this sid" }),
        ),
        Err(e) => json_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": e.to_string() }),
        ),
    }
}

async fn summary(State(state): State<Arc<AppState>>) -> Response {
    match state.db.summary().await {
        Ok(v) => json_reply(StatusCode::OK, v),
        Err(e) => json_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": e.to_string() }),
        ),
    }
}
