//! Prometheus metrics: reconciles, failures by reason, reconcile duration, served on
//! `/metrics` by [`crate::http`].

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

/// The operator's metrics, registered under the `nuget_operator` prefix.
#[derive(Debug)]
pub struct Metrics {
    pub reconciles: Counter,
    pub failures: Family<ReasonLabels, Counter>,
    pub invalid_specs: Family<ReasonLabels, Counter>,
    pub writes: Counter,
    pub duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            reconciles: Counter::default(),
            failures: Family::default(),
            invalid_specs: Family::default(),
            writes: Counter::default(),
            duration: Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 15.0, 60.0]),
        }
    }
}

impl Metrics {
    /// Registers every metric in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("nuget_operator");
        r.register("reconciles", "Reconciles started", self.reconciles.clone());
        r.register(
            "reconcile_failures",
            "Reconciles that failed, by error category",
            self.failures.clone(),
        );
        r.register(
            "invalid_specs",
            "Reconciles that found an invalid spec, by condition reason",
            self.invalid_specs.clone(),
        );
        r.register(
            "writes",
            "Objects written (applied, created, patched, deleted or status) by reconciles",
            self.writes.clone(),
        );
        r.register(
            "reconcile_duration_seconds",
            "Duration of reconciles",
            self.duration.clone(),
        );
    }

    /// Starts timing a reconcile; the duration is recorded when the guard drops.
    pub fn start(&self) -> Measure<'_> {
        self.reconciles.inc();
        Measure {
            metrics: self,
            start: Instant::now(),
        }
    }

    pub fn failure(&self, reason: &str) {
        self.failures
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    pub fn invalid(&self, reason: &str) {
        self.invalid_specs
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }
}

/// Records a reconcile's duration on drop.
pub struct Measure<'a> {
    metrics: &'a Metrics,
    start: Instant,
}

impl Drop for Measure<'_> {
    fn drop(&mut self) {
        self.metrics
            .duration
            .observe(self.start.elapsed().as_secs_f64());
    }
}
