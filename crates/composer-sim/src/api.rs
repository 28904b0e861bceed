//! The HTTP routes: the cloud API v2 subset under
//! `/api/image-builder-composer/v2/`, the OAuth2 token endpoint `/token`,
//! and the admin endpoints under `/_sim/`.
//!
//! Every API request goes through [`api_gate`]: count it, delay it, fail it
//! (fault burst), then check its Bearer token when OAuth is on. The token
//! and admin endpoints are never delayed or failed.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::compose::{self, Compose, API_BASE};
use crate::errors::{self, ApiError};
use crate::faults::FaultsUpdate;
use crate::sim::Sim;
use crate::validate;

type AppState = Arc<Sim>;

pub fn router(sim: Arc<Sim>) -> Router {
    let api = Router::new()
        .route("/compose", post(post_compose))
        .route("/composes/", get(list_composes))
        .route(
            "/composes/{id}",
            get(get_compose_status).delete(delete_compose),
        )
        .route("/composes/{id}/logs", get(get_compose_logs))
        .route("/composes/{id}/manifests", get(get_compose_manifests))
        .route("/composes/{id}/metadata", get(get_compose_metadata))
        .fallback(api_not_found)
        .method_not_allowed_fallback(api_method_not_allowed)
        .route_layer(middleware::from_fn_with_state(sim.clone(), api_gate));

    Router::new()
        .nest(API_BASE, api)
        .route("/token", post(post_token))
        .route("/_sim/faults", get(get_faults).post(post_faults))
        .route("/_sim/stats", get(get_stats).delete(delete_stats))
        .route("/_sim/composes", get(admin_composes))
        .fallback(api_not_found)
        .with_state(sim)
}

/// Counts, delays, fails and authenticates API requests.
async fn api_gate(State(sim): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| {
            p.as_str()
                .strip_prefix(API_BASE)
                .unwrap_or(p.as_str())
                .to_owned()
        })
        .unwrap_or_else(|| req.uri().path().to_owned());
    let endpoint = format!("{} {route}", req.method());
    let (delay, fail_status) = {
        let mut f = sim.faults();
        let fail = f.take_failure();
        (f.delay, fail)
    };
    *sim.stats().requests.entry(endpoint.clone()).or_default() += 1;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = fail_status {
        sim.stats().injected_failures += 1;
        tracing::info!(%endpoint, status, "injected failure");
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut e =
            ApiError::with_details(errors::UNSPECIFIED, "injected fault (fail_next, fail_for)");
        e.status = Some(status);
        return e.into_response();
    }
    if sim.config.oauth.is_some() {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let why = match token {
            None => Some("no Bearer token in the Authorization header"),
            Some(t) if !sim.token_valid(t) => Some("the Bearer token is unknown or expired"),
            Some(_) => None,
        };
        if let Some(why) = why {
            sim.stats().unauthenticated += 1;
            return ApiError::with_details(errors::UNAUTHENTICATED, why).into_response();
        }
    }
    next.run(req).await
}

async fn api_not_found(req: Request) -> ApiError {
    ApiError::with_details(
        errors::RESOURCE_NOT_FOUND,
        format!("no route for {} {}", req.method(), req.uri().path()),
    )
}

async fn api_method_not_allowed(method: Method) -> ApiError {
    ApiError::with_details(
        errors::METHOD_NOT_ALLOWED,
        format!("method {method} is not supported here"),
    )
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

async fn post_compose(State(sim): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !is_json(&headers) {
        sim.stats().composes_rejected += 1;
        return ApiError::new(errors::UNSUPPORTED_MEDIA_TYPE).into_response();
    }
    let request = match validate::compose_request(&body) {
        Ok(r) => r,
        Err(e) => {
            sim.stats().composes_rejected += 1;
            tracing::info!("compose request rejected: {e}");
            return e.into_response();
        }
    };
    let compose = Compose::new(request);
    sim.insert_compose(compose.clone());
    sim.stats().composes_created += 1;
    tracing::info!(compose = %compose.id, koji = compose.request.koji.is_some(), "compose created");
    tokio::spawn(compose::run(sim.clone(), compose.clone()));
    let doc = json!({"href": format!("{API_BASE}/compose"), "kind": "ComposeId", "id": compose.id.to_string()});
    (StatusCode::CREATED, Json(doc)).into_response()
}

fn find(sim: &Sim, id: &str) -> Result<Arc<Compose>, ApiError> {
    let uuid = Uuid::parse_str(id).map_err(|_| {
        ApiError::with_details(errors::INVALID_COMPOSE_ID, format!("{id:?} is not a UUID"))
    })?;
    sim.compose(&uuid).ok_or_else(|| {
        ApiError::with_details(errors::COMPOSE_NOT_FOUND, format!("no compose {uuid}"))
    })
}

async fn get_compose_status(
    State(sim): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = find(&sim, &id)?;
    sim.stats().status_polls += 1;
    Ok(Json(c.status_json()))
}

async fn get_compose_logs(
    State(sim): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = find(&sim, &id)?;
    sim.stats().logs_requests += 1;
    if sim.faults().logs_fail {
        return Err(injected_not_found("logs_fail"));
    }
    Ok(Json(c.logs_json()))
}

async fn get_compose_manifests(
    State(sim): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = find(&sim, &id)?;
    sim.stats().manifests_requests += 1;
    if sim.faults().manifests_fail {
        return Err(injected_not_found("manifests_fail"));
    }
    Ok(Json(c.manifests_json()))
}

/// A 404 for an injected fault: not a 5xx, so clients do not retry it.
fn injected_not_found(fault: &str) -> ApiError {
    ApiError::with_details(
        errors::RESOURCE_NOT_FOUND,
        format!("injected fault ({fault})"),
    )
}

async fn get_compose_metadata(
    State(sim): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = find(&sim, &id)?;
    Ok(Json(json!({
        "id": c.id.to_string(),
        "kind": "ComposeMetadata",
        "href": format!("{}/metadata", c.href()),
        "request": c.request.to_json(),
    })))
}

async fn delete_compose(
    State(sim): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = find(&sim, &id)?;
    let was_pending = c.cancel();
    {
        let mut stats = sim.stats();
        stats.cancels += 1;
        if was_pending {
            stats.canceled_composes.push(c.id.to_string());
        }
    }
    tracing::info!(compose = %c.id, was_pending, "compose deleted");
    Ok(Json(
        json!({"id": c.id.to_string(), "kind": "ComposeDeleteStatus", "href": c.href()}),
    ))
}

async fn list_composes(State(sim): State<AppState>) -> Json<Value> {
    let items: Vec<Value> = sim.all_composes().iter().map(|c| c.status_json()).collect();
    Json(
        json!({"kind": "ComposeList", "page": 0, "size": items.len(), "total": items.len(), "items": items}),
    )
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// RFC 6749 §4.4 client credentials, answered like Red Hat SSO (Keycloak).
async fn post_token(
    State(sim): State<AppState>,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    sim.stats().token_requests += 1;
    let Some(oauth) = &sim.config.oauth else {
        return oauth_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "OAuth is not enabled on this composer-sim",
        );
    };
    let fail = |status, error, description| {
        sim.stats().token_failures += 1;
        oauth_error(status, error, description)
    };
    let req = match form {
        Ok(Form(req)) => req,
        Err(e) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("expected a form body: {e}"),
            )
        }
    };
    if req.grant_type.as_deref() != Some("client_credentials") {
        return fail(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant_type",
        );
    }
    if req.client_id.as_deref() != Some(oauth.client_id.as_str()) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        );
    }
    if req.client_secret.as_deref() != Some(oauth.client_secret.as_str()) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Invalid client or Invalid client credentials",
        );
    }
    let (token, lifetime) = sim.issue_token();
    Json(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "scope": "api.iam.service_accounts",
    }))
    .into_response()
}

async fn get_faults(State(sim): State<AppState>) -> Json<Value> {
    Json(sim.faults().to_json())
}

async fn post_faults(State(sim): State<AppState>, body: Bytes) -> Response {
    let update: FaultsUpdate = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("bad faults document: {e}")})),
            )
                .into_response()
        }
    };
    let result = {
        let mut f = sim.faults();
        f.apply(&update, &sim.config.initial_faults)
            .map(|()| f.to_json())
    };
    match result {
        Ok(doc) => {
            if update.expire_tokens {
                sim.expire_tokens();
            }
            tracing::info!(faults = %doc, "faults changed");
            Json(doc).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
    }
}

async fn get_stats(State(sim): State<AppState>) -> Json<Value> {
    Json(serde_json::to_value(&*sim.stats()).unwrap_or(Value::Null))
}

async fn delete_stats(State(sim): State<AppState>) -> StatusCode {
    *sim.stats() = Default::default();
    StatusCode::NO_CONTENT
}

async fn admin_composes(State(sim): State<AppState>) -> Json<Value> {
    Json(Value::Array(
        sim.all_composes().iter().map(|c| c.admin_json()).collect(),
    ))
}
