//! Prometheus metrics of the daemon, served on `/metrics` when
//! `[builder] metrics_listen` is set.
//!
//! The libraries stay free of metrics: crates/koji and crates/composer
//! tell an observer of theirs about every exchange with the hub and with
//! composer ([`hub_observer`], [`composer_observer`], attached by the host
//! loop), so requests, errors, outages and the last hub success are counted
//! in one place each. Tasks are counted where the host loop starts them
//! ([`Metrics::task_started`]), composes where a task learns how its
//! compose ended ([`Metrics::compose_finished`]).
//!
//! One registry per process ([`get`]): the daemon runs one host loop.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// The prefix of every metric name.
pub const PREFIX: &str = "koji_osbuild_builder";

/// One label, e.g. `("method", "osbuildImage")`.
type Label = [(&'static str, String); 1];

fn label(name: &'static str, value: impl Into<String>) -> Label {
    [(name, value.into())]
}

/// The metrics and the registry that renders them.
pub struct Metrics {
    registry: Registry,
    tasks_running: Family<Label, Gauge>,
    tasks_taken: Family<Label, Counter>,
    composes_finished: Family<Label, Counter>,
    hub_requests: Family<Label, Counter>,
    hub_errors: Family<Label, Counter>,
    hub_last_success: Gauge<f64, AtomicU64>,
    composer_requests: Family<Label, Counter>,
    composer_errors: Family<Label, Counter>,
    outage: Family<Label, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric, all at zero; the outage gauges exist
    /// from the start (at 0), so an alert on them needs no `absent()`.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let m = Metrics {
            registry: Registry::default(),
            tasks_running: Family::default(),
            tasks_taken: Family::default(),
            composes_finished: Family::default(),
            hub_requests: Family::default(),
            hub_errors: Family::default(),
            hub_last_success: Gauge::default(),
            composer_requests: Family::default(),
            composer_errors: Family::default(),
            outage: Family::default(),
        };
        registry.register(
            "tasks_running",
            "Tasks this builder runs now, by task method",
            m.tasks_running.clone(),
        );
        registry.register(
            "tasks_taken",
            "Tasks this builder has opened, by task method",
            m.tasks_taken.clone(),
        );
        registry.register(
            "composes_finished",
            "Composes followed to their end, by final status (success, failure, canceled)",
            m.composes_finished.clone(),
        );
        registry.register(
            "hub_requests",
            "XML-RPC exchanges with the Koji hub (each try), by method",
            m.hub_requests.clone(),
        );
        registry.register(
            "hub_errors",
            "Failed exchanges with the Koji hub, by kind (a fault's name, transport, tls, http, decode, other)",
            m.hub_errors.clone(),
        );
        registry.register(
            "hub_last_success_timestamp_seconds",
            "Unix time of the last hub call that got an answer without fault",
            m.hub_last_success.clone(),
        );
        registry.register(
            "composer_requests",
            "HTTP requests to composer and its OAuth token URL (each try), by HTTP method",
            m.composer_requests.clone(),
        );
        registry.register(
            "composer_errors",
            "Failed requests to composer, by kind (4xx, 5xx, transport, tls)",
            m.composer_errors.clone(),
        );
        registry.register(
            "outage",
            "1 while the builder waits out an outage of the dependency (hub, composer): its last request failed in a way that is retried",
            m.outage.clone(),
        );
        registry.register(
            "build",
            "The builder's version",
            Info::new(label("version", env!("CARGO_PKG_VERSION"))),
        );
        // The series known in advance are shown from the start, at 0.
        for method in crate::host::METHODS {
            let method = label("method", method);
            m.tasks_running.get_or_create(&method).set(0);
            let _ = m.tasks_taken.get_or_create(&method);
        }
        for status in ["success", "failure", "canceled"] {
            let _ = m.composes_finished.get_or_create(&label("status", status));
        }
        for dependency in ["hub", "composer"] {
            m.outage
                .get_or_create(&label("dependency", dependency))
                .set(0);
        }
        Metrics { registry, ..m }
    }

    /// The metrics in the text format Prometheus scrapes (OpenMetrics).
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }

    /// A task starts: counted as taken and as running until the returned
    /// guard is dropped (when the task's worker ends).
    pub fn task_started(&'static self, method: &str) -> RunningTask {
        let method = label("method", method);
        self.tasks_taken.get_or_create(&method).inc();
        self.tasks_running.get_or_create(&method).inc();
        RunningTask {
            metrics: self,
            method,
        }
    }

    /// A compose the builder followed ended with `status` (composer's
    /// `success` or `failure`, or `canceled` when the builder canceled it).
    pub fn compose_finished(&self, status: &str) {
        self.composes_finished
            .get_or_create(&label("status", status))
            .inc();
    }

    /// One exchange with the hub ended.
    pub fn hub_exchange(&self, method: &str, outcome: Result<(), &koji::Error>) {
        self.hub_requests
            .get_or_create(&label("method", method))
            .inc();
        let unreachable = match outcome {
            Ok(()) => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH);
                self.hub_last_success
                    .set(now.map_or(0.0, |d| d.as_secs_f64()));
                false
            }
            Err(e) => {
                self.hub_errors
                    .get_or_create(&label("kind", hub_error_kind(e)))
                    .inc();
                crate::osbuild::is_hub_unreachable(e)
            }
        };
        self.set_outage("hub", unreachable);
    }

    /// One request to composer ended.
    pub fn composer_exchange(&self, method: &str, outcome: composer::Exchange) {
        self.composer_requests
            .get_or_create(&label("method", method))
            .inc();
        let kind = composer_error_kind(outcome);
        if let Some(kind) = kind {
            self.composer_errors
                .get_or_create(&label("kind", kind))
                .inc();
        }
        // 5xx and dropped connections are what the builder waits out
        // (composer::Error::is_transient); a certificate problem is not.
        self.set_outage("composer", matches!(kind, Some("5xx" | "transport")));
    }

    fn set_outage(&self, dependency: &'static str, on: bool) {
        self.outage
            .get_or_create(&label("dependency", dependency))
            .set(i64::from(on));
    }
}

/// Counts a task as running while it lives.
pub struct RunningTask {
    metrics: &'static Metrics,
    method: Label,
}

impl Drop for RunningTask {
    fn drop(&mut self) {
        self.metrics.tasks_running.get_or_create(&self.method).dec();
    }
}

/// The `kind` label of a failed hub exchange.
fn hub_error_kind(e: &koji::Error) -> String {
    match e {
        koji::Error::Fault { kind, .. } => kind.to_string(),
        koji::Error::Transport { detail, .. } => {
            let detail = detail.to_lowercase();
            let tls = ["certificate", "handshake", "tls", "alert"]
                .iter()
                .any(|w| detail.contains(w));
            if tls { "tls" } else { "transport" }.to_string()
        }
        koji::Error::Http { .. } => "http".to_string(),
        koji::Error::Decode { .. } => "decode".to_string(),
        _ => "other".to_string(),
    }
}

/// The `kind` label of a failed composer request; `None`: no error.
fn composer_error_kind(outcome: composer::Exchange) -> Option<&'static str> {
    match outcome {
        composer::Exchange::Answered(status) if status >= 500 => Some("5xx"),
        composer::Exchange::Answered(status) if status >= 400 => Some("4xx"),
        composer::Exchange::Answered(_) => None,
        composer::Exchange::Failed { certificate: true } => Some("tls"),
        composer::Exchange::Failed { certificate: false } => Some("transport"),
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn get() -> &'static Metrics {
    &METRICS
}

/// The hub session's observer: counts into [`get`].
pub fn hub_observer() -> koji::Observer {
    koji::Observer::new(|method, outcome| get().hub_exchange(method, outcome))
}

/// The composer client's observer: counts into [`get`].
pub fn composer_observer() -> composer::Observer {
    composer::Observer::new(|method, outcome| get().composer_exchange(method, outcome))
}

/// `metrics_listen` could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on metrics_listen = {addr}: {reason}")]
pub struct ListenError {
    pub addr: SocketAddr,
    pub reason: String,
}

/// Binds `addr` now (so a port in use fails the start) and serves
/// `GET /metrics` from a task of its own; any other path is a 404.
pub async fn serve(addr: SocketAddr) -> Result<SocketAddr, ListenError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| ListenError {
            addr,
            reason: doctor_report::io_reason(&e),
        })?;
    let local = listener.local_addr().unwrap_or(addr);
    tracing::info!(address = %local, "serving metrics on http://{local}/metrics");
    tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::debug!("metrics: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let service = hyper::service::service_fn(|req| async move {
                    Ok::<_, std::convert::Infallible>(respond(&req))
                });
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
                if let Err(e) = conn.await {
                    tracing::debug!("metrics: connection: {e}");
                }
            });
        }
    });
    Ok(local)
}

/// The answer to one request.
fn respond<B>(req: &hyper::Request<B>) -> hyper::Response<String> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&hyper::Method::GET | &hyper::Method::HEAD, "/metrics") => (
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            get().render(),
        ),
        _ => (404, "text/plain", "not found: try /metrics\n".to_string()),
    };
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaked() -> &'static Metrics {
        Box::leak(Box::new(Metrics::new()))
    }

    #[test]
    fn a_fresh_registry_has_names_help_and_build_info() {
        let text = Metrics::new().render();
        let version = env!("CARGO_PKG_VERSION");
        assert!(
            text.contains(&format!(
                "koji_osbuild_builder_build_info{{version=\"{version}\"}} 1"
            )),
            "{text}"
        );
        assert!(text.contains("# HELP koji_osbuild_builder_tasks_running Tasks"));
        assert!(text.contains("# TYPE koji_osbuild_builder_tasks_taken counter"));
        assert!(text.contains("koji_osbuild_builder_outage{dependency=\"hub\"} 0"));
        assert!(text.contains("koji_osbuild_builder_outage{dependency=\"composer\"} 0"));
        assert!(text.contains("koji_osbuild_builder_tasks_running{method=\"tagBuild\"} 0"));
        assert!(
            text.contains("koji_osbuild_builder_composes_finished_total{status=\"canceled\"} 0")
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn tasks_run_while_their_guard_lives() {
        let m = leaked();
        let guard = m.task_started("osbuildImage");
        let text = m.render();
        assert!(text.contains("koji_osbuild_builder_tasks_running{method=\"osbuildImage\"} 1"));
        assert!(text.contains("koji_osbuild_builder_tasks_taken_total{method=\"osbuildImage\"} 1"));
        drop(guard);
        let text = m.render();
        assert!(text.contains("koji_osbuild_builder_tasks_running{method=\"osbuildImage\"} 0"));
        m.compose_finished("success");
        assert!(m
            .render()
            .contains("koji_osbuild_builder_composes_finished_total{status=\"success\"} 1"));
    }

    #[test]
    fn hub_exchanges_count_errors_by_kind_and_outages() {
        let m = Metrics::new();
        let offline = koji::Error::Fault {
            kind: koji::FaultKind::ServerOffline,
            code: 1014,
            message: "down".into(),
        };
        m.hub_exchange("host.getTasks", Err(&offline));
        let text = m.render();
        assert!(
            text.contains("koji_osbuild_builder_hub_requests_total{method=\"host.getTasks\"} 1")
        );
        assert!(text.contains("koji_osbuild_builder_hub_errors_total{kind=\"ServerOffline\"} 1"));
        assert!(text.contains("koji_osbuild_builder_outage{dependency=\"hub\"} 1"));
        assert!(text.contains("koji_osbuild_builder_hub_last_success_timestamp_seconds 0"));
        let http = koji::Error::Http {
            url: "u".into(),
            status: 404,
            body: String::new(),
        };
        m.hub_exchange("getTaskInfo", Err(&http));
        let text = m.render();
        assert!(text.contains("koji_osbuild_builder_hub_errors_total{kind=\"http\"} 1"));
        assert!(text.contains("koji_osbuild_builder_outage{dependency=\"hub\"} 0"));
        m.hub_exchange("getTaskInfo", Ok(()));
        let text = m.render();
        assert!(!text.contains("koji_osbuild_builder_hub_last_success_timestamp_seconds 0.0\n"));
    }

    #[test]
    fn composer_errors_by_kind_and_outage() {
        use composer::Exchange::{Answered, Failed};
        let m = Metrics::new();
        m.composer_exchange("GET", Answered(503));
        let text = m.render();
        assert!(text.contains("koji_osbuild_builder_composer_errors_total{kind=\"5xx\"} 1"));
        assert!(text.contains("koji_osbuild_builder_outage{dependency=\"composer\"} 1"));
        m.composer_exchange("POST", Answered(400));
        m.composer_exchange("GET", Failed { certificate: true });
        m.composer_exchange("GET", Failed { certificate: false });
        let text = m.render();
        assert!(text.contains("koji_osbuild_builder_composer_errors_total{kind=\"4xx\"} 1"));
        assert!(text.contains("koji_osbuild_builder_composer_errors_total{kind=\"tls\"} 1"));
        assert!(text.contains("koji_osbuild_builder_composer_errors_total{kind=\"transport\"} 1"));
        assert!(text.contains("koji_osbuild_builder_outage{dependency=\"composer\"} 1"));
        assert!(text.contains("koji_osbuild_builder_composer_requests_total{method=\"GET\"} 3"));
        m.composer_exchange("GET", Answered(200));
        assert!(m
            .render()
            .contains("koji_osbuild_builder_outage{dependency=\"composer\"} 0"));
    }

    #[test]
    fn only_metrics_is_served() {
        let get = |path: &str| hyper::Request::get(path).body(()).unwrap();
        let ok = respond(&get("/metrics"));
        assert_eq!(ok.status(), 200);
        assert!(ok.body().contains("koji_osbuild_builder_build_info"));
        assert_eq!(respond(&get("/")).status(), 404);
    }
}
