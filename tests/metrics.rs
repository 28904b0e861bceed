//! The builder's Prometheus metrics (`[builder] metrics_listen`), scraped
//! over plain HTTP while a compose runs and after its task closed.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use e2e::builder::{builder_conf, run_until_exit, BuilderProcess};
use e2e::hub::TestHub;
use e2e::sim::ComposerSim;
use e2e::tasks::{failure, submit_guest_image, wait_done, wait_for_file};
use koji::TaskState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback address with a port nobody listens on now.
fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").to_string()
}

/// GET /metrics: the status line and the samples, `name{labels}` → value.
async fn scrape(addr: &str) -> (String, HashMap<String, f64>) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to metrics_listen {addr}: {e}"));
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.expect("read reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP reply");
    let samples = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect();
    (head.lines().next().unwrap_or_default().to_string(), samples)
}

fn sample(samples: &HashMap<String, f64>, name: &str) -> f64 {
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {samples:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_show_a_running_compose_and_then_its_end() {
    let hub = TestHub::start();
    let sim = ComposerSim::start(&hub, &["--compose-duration", "5s"]);
    let addr = free_addr();
    let conf = builder_conf(&hub, &sim.url, &format!("metrics_listen = {addr}"));
    let builder = BuilderProcess::start(&conf);
    let user = hub.login("kojiuser", "kojipass").await;
    let task_id = submit_guest_image(&user).await;

    // compose.json is attached once composer accepted the compose, which
    // then runs for 5 s.
    wait_for_file(&user, task_id, "compose.json").await;
    let (status, during) = scrape(&addr).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let p = "koji_osbuild_builder_";
    assert_eq!(
        sample(
            &during,
            &format!("{p}tasks_running{{method=\"osbuildImage\"}}")
        ),
        1.0
    );
    assert_eq!(
        sample(&during, &format!("{p}outage{{dependency=\"hub\"}}")),
        0.0
    );
    assert_eq!(
        sample(&during, &format!("{p}outage{{dependency=\"composer\"}}")),
        0.0
    );
    let hub_requests: f64 = during
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{p}hub_requests_total{{")))
        .map(|(_, v)| v)
        .sum();
    assert!(hub_requests > 0.0, "{during:#?}");
    assert!(
        sample(
            &during,
            &format!("{p}composer_requests_total{{method=\"POST\"}}")
        ) >= 1.0,
        "{during:#?}"
    );
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let last = sample(&during, &format!("{p}hub_last_success_timestamp_seconds"));
    assert!(
        (now.as_secs_f64() - last).abs() < 30.0,
        "last hub success {last}, now {now:?}"
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(&during, &format!("{p}build_info{{version=\"{version}\"}}")),
        1.0
    );

    let info = wait_done(&user, task_id, Duration::from_secs(120)).await;
    assert_eq!(
        info.state,
        TaskState::Closed,
        "{}",
        failure(&user, task_id).await
    );
    // The worker ends right after closeTask: wait for the gauge to follow.
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let (_, after) = scrape(&addr).await;
        if sample(
            &after,
            &format!("{p}tasks_running{{method=\"osbuildImage\"}}"),
        ) == 0.0
        {
            break after;
        }
        assert!(Instant::now() < deadline, "still running: {after:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        sample(
            &after,
            &format!("{p}composes_finished_total{{status=\"success\"}}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            &format!("{p}composes_finished_total{{status=\"failure\"}}")
        ),
        0.0
    );
    assert_eq!(
        sample(
            &after,
            &format!("{p}tasks_taken_total{{method=\"osbuildImage\"}}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            &format!("{p}tasks_taken_total{{method=\"tagBuild\"}}")
        ),
        1.0
    );
    drop(builder);
}

#[test]
fn a_metrics_port_in_use_stops_the_start_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let addr = taken.local_addr().expect("local address");
    // Nothing is contacted before the port is bound.
    let conf = format!(
        "[composer]\nserver = http://127.0.0.1:1\n[koji]\nserver = http://127.0.0.1:1/kojihub\n\
         [builder]\nuser = builder.local\npassword = hostpass\nmetrics_listen = {addr}\n"
    );
    let (status, stderr) = run_until_exit(&conf, Duration::from_secs(30));
    assert!(!status.success(), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "koji-osbuild-builder: cannot listen on metrics_listen = {addr}: "
        )),
        "{stderr}"
    );
}
