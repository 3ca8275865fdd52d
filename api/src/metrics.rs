//! Prometheus metrics: requests by operation and outcome, latency, SQL statements per request,
//! batch sizes of the loaders, and the database pool.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// At most this many distinct operation names are labelled; later ones count as `other`, so
/// clients cannot grow the metrics without bound.
const MAX_OPERATION_NAMES: usize = 200;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoaderLabel {
    loader: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MailLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadLabels {
    /// `primary`, or a standby's address.
    target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FallbackLabel {
    reason: &'static str,
}

/// How a GraphQL request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Data and no errors.
    Ok,
    /// Executed, with errors in some fields.
    Error,
    /// Not executed: the document did not parse, validate, or pass the limits.
    Invalid,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Invalid => "invalid",
        }
    }
}

/// The server's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabel, Histogram>,
    statements: Histogram,
    batches: Family<LoaderLabel, Histogram>,
    pool: Family<PoolLabel, Gauge>,
    mail: Family<MailLabel, Counter>,
    reads: Family<ReadLabels, Counter>,
    fallbacks: Family<FallbackLabel, Counter>,
    lag: Family<ReadLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    operations: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("roster");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "graphql_requests",
            "GraphQL requests by operation and outcome",
            requests.clone(),
        );
        let latency = Family::<OperationLabel, Histogram>::new_with_constructor(|| {
            // 0.5 ms to about 16 s.
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.0005, 2.0, 16,
            ))
        });
        registry.register(
            "graphql_request_duration_seconds",
            "Time to answer a GraphQL request",
            latency.clone(),
        );
        let statements = Histogram::new([
            0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 50.0,
        ]);
        registry.register(
            "graphql_sql_statements_per_request",
            "SQL statements one GraphQL request ran",
            statements.clone(),
        );
        let batches = Family::<LoaderLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                1.0, 2.0, 14,
            ))
        });
        registry.register(
            "dataloader_batch_size",
            "Keys loaded by one batch, by loader",
            batches.clone(),
        );
        let pool = Family::<PoolLabel, Gauge>::default();
        registry.register(
            "database_pool_connections",
            "Database connections by state",
            pool.clone(),
        );
        let mail = Family::<MailLabel, Counter>::default();
        registry.register(
            "mail_deliveries",
            "Attempts to deliver a message, by outcome (sent, failed)",
            mail.clone(),
        );
        let reads = Family::<ReadLabels, Counter>::default();
        registry.register(
            "read_operations",
            "Query operations by the database that served them (primary, or a standby)",
            reads.clone(),
        );
        let fallbacks = Family::<FallbackLabel, Counter>::default();
        registry.register(
            "read_fallbacks",
            "Query operations the primary served though standbys are set, by reason",
            fallbacks.clone(),
        );
        let lag = Family::<ReadLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "standby_lag_seconds",
            "How far each standby is behind the primary (+Inf when it does not answer)",
            lag.clone(),
        );
        Metrics(Arc::new(Inner {
            registry,
            mail,
            reads,
            fallbacks,
            lag,
            requests,
            latency,
            statements,
            batches,
            pool,
            operations: Mutex::new(HashSet::new()),
        }))
    }
}

impl Metrics {
    /// Records one GraphQL request.
    pub fn request(
        &self,
        operation: Option<&str>,
        outcome: Outcome,
        elapsed: Duration,
        statements: u32,
    ) {
        let operation = self.operation_label(operation);
        self.0
            .requests
            .get_or_create(&RequestLabels {
                operation: operation.clone(),
                outcome: outcome.label(),
            })
            .inc();
        self.0
            .latency
            .get_or_create(&OperationLabel { operation })
            .observe(elapsed.as_secs_f64());
        self.0.statements.observe(f64::from(statements));
    }

    /// Records one attempt to deliver a message.
    pub fn mail(&self, sent: bool) {
        let outcome = if sent { "sent" } else { "failed" };
        self.0.mail.get_or_create(&MailLabel { outcome }).inc();
    }

    /// Records a query operation served by `target` (`primary` or a standby's address), and
    /// why the primary served it when standbys are set (`fallback`).
    pub fn read(&self, target: &str, fallback: Option<&'static str>) {
        let target = target.to_owned();
        self.0.reads.get_or_create(&ReadLabels { target }).inc();
        if let Some(reason) = fallback {
            self.0
                .fallbacks
                .get_or_create(&FallbackLabel { reason })
                .inc();
        }
    }

    /// Sets how far behind the primary each standby is.
    pub fn standby_lag<'a>(&self, lags: impl IntoIterator<Item = (&'a str, f64)>) {
        for (target, seconds) in lags {
            let target = target.to_owned();
            self.0
                .lag
                .get_or_create(&ReadLabels { target })
                .set(seconds);
        }
    }

    /// Records the size of one batch of `loader`.
    pub fn batch(&self, loader: &'static str, keys: usize) {
        #[allow(clippy::cast_precision_loss)]
        self.0
            .batches
            .get_or_create(&LoaderLabel { loader })
            .observe(keys as f64);
    }

    /// The metrics in Prometheus text format, with the pool's current state.
    pub fn render(&self, pool_in_use: i64, pool_idle: i64) -> String {
        self.0
            .pool
            .get_or_create(&PoolLabel { state: "in_use" })
            .set(pool_in_use);
        self.0
            .pool
            .get_or_create(&PoolLabel { state: "idle" })
            .set(pool_idle);
        let mut text = String::new();
        if encode(&mut text, &self.0.registry).is_err() {
            tracing::error!("could not encode the metrics");
        }
        text
    }

    /// A well-formed operation name among the first `MAX_OPERATION_NAMES`, or a fixed label.
    fn operation_label(&self, operation: Option<&str>) -> String {
        let Some(name) = operation else {
            return "anonymous".to_owned();
        };
        let well_formed = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            return "other".to_owned();
        }
        let Ok(mut known) = self.0.operations.lock() else {
            return "other".to_owned();
        };
        if known.contains(name) || known.len() < MAX_OPERATION_NAMES {
            known.insert(name.to_owned());
            name.to_owned()
        } else {
            "other".to_owned()
        }
    }
}
