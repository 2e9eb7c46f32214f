//! Runs every scheduled rule on its schedule: Sentinel analytic rules every `queryFrequency`
//! over the last `queryPeriod`, Elastic rules every `interval` over `from` (`now-2h`).
//!
//! Run instants are aligned to multiples of the frequency since the Unix epoch, so they do not
//! depend on when the server started. The instant of each rule's last finished run is kept in
//! the alert store and committed in the same transaction as the run's alerts: after a crash or
//! restart a run that finished is not repeated, one that did not finish runs again (its alerts
//! cannot double: they are unique by rule, entity and event window), and any number of missed
//! instants is caught up by one run at the latest of them.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use goshawk_rules::lint::parse_duration;
use goshawk_rules::{LoadedRule, RuleDocument};
use tokio::sync::watch;

use crate::AppState;
use crate::metrics::Metrics;
use crate::store::NewAlert;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// How often a rule runs and how far back each run looks (nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub frequency: i64,
    pub lookback: i64,
}

/// Why a rule is not scheduled, for `GET /api/rules` and the start-up log.
pub fn schedule_of(rule: &LoadedRule) -> Result<Schedule, String> {
    let seconds = |field: &str, text: &str| -> Result<i64, String> {
        parse_duration(text)
            .and_then(|s| i64::try_from(s).ok())
            .filter(|s| *s > 0)
            .and_then(|s| s.checked_mul(NANOS_PER_SECOND))
            .ok_or_else(|| format!("{field} '{text}' is not a duration such as 15m, 1h or P1D"))
    };
    match &rule.document {
        RuleDocument::Sentinel(sentinel) if sentinel.is_analytic_rule() => {
            let frequency = sentinel
                .query_frequency
                .as_deref()
                .ok_or("a Sentinel analytic rule without queryFrequency")?;
            let period = sentinel
                .query_period
                .as_deref()
                .ok_or("a Sentinel analytic rule without queryPeriod")?;
            Ok(Schedule {
                frequency: seconds("queryFrequency", frequency)?,
                lookback: seconds("queryPeriod", period)?,
            })
        }
        RuleDocument::Sentinel(_) => Err("a hunting query (run it with goshawk hunt)".into()),
        RuleDocument::Elastic(file) => {
            // Elastic's defaults when a rule names none.
            let interval = file.rule.interval.as_deref().unwrap_or("5m");
            let from = file.rule.from.as_deref().unwrap_or("now-6m");
            let lookback = from
                .trim()
                .strip_prefix("now-")
                .ok_or_else(|| format!("from '{from}' is not of the form now-<duration>"))?;
            Ok(Schedule {
                frequency: seconds("interval", interval)?,
                lookback: seconds("from", lookback)?,
            })
        }
        RuleDocument::MlJob(_) | RuleDocument::Datafeed(_) => {
            Err("an ML job or datafeed (run by the machine_learning rules that use it)".into())
        }
    }
}

/// The run due at `now`: the latest instant aligned to the frequency, unless the last finished
/// run is already at or past it. Missed instants before it are not run one by one.
pub fn due_run(last_run: Option<i64>, now: i64, frequency: i64) -> Option<i64> {
    let slot = now.div_euclid(frequency) * frequency;
    match last_run {
        Some(last) if last >= slot => None,
        _ => Some(slot),
    }
}

/// Runs one rule as of an instant; the seam between scheduling and rule execution.
#[async_trait]
pub trait RuleRunner: Send + Sync {
    /// The alerts `rule` raises when run at `now_nanos` over the `lookback` before it.
    async fn run(
        &self,
        state: &AppState,
        rule: &LoadedRule,
        now_nanos: i64,
        lookback_nanos: i64,
    ) -> Result<Vec<NewAlert>, String>;
}

/// One rule run, as the scheduler reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub rule_id: String,
    pub run_at: i64,
    pub outcome: Result<usize, String>,
}

pub struct Scheduler {
    rules: Vec<(LoadedRule, Schedule)>,
    runner: Arc<dyn RuleRunner>,
}

impl Scheduler {
    /// The scheduled rules among `rules`.
    pub fn new(rules: &[LoadedRule], runner: Arc<dyn RuleRunner>) -> Scheduler {
        let rules = rules
            .iter()
            .filter_map(|rule| schedule_of(rule).ok().map(|s| (rule.clone(), s)))
            .collect();
        Scheduler { rules, runner }
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Runs every rule that is due at `now` (ns), one after another; stops early when `stop`
    /// turns true (a run that has begun is finished).
    pub async fn tick(
        &self,
        state: &AppState,
        now: i64,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Vec<RunReport> {
        let mut reports = Vec::new();
        for (rule, schedule) in &self.rules {
            if stop.is_some_and(|s| *s.borrow()) {
                break;
            }
            let last = match state.store().last_window_end(rule.id()) {
                Ok(last) => last,
                Err(err) => {
                    reports.push(RunReport {
                        rule_id: rule.id().to_string(),
                        run_at: now,
                        outcome: Err(err.to_string()),
                    });
                    continue;
                }
            };
            let Some(run_at) = due_run(last, now, schedule.frequency) else {
                continue;
            };
            let outcome = match self
                .runner
                .run(state, rule, run_at, schedule.lookback)
                .await
            {
                Ok(alerts) => state
                    .store()
                    .finish_run(rule.id(), run_at, &alerts, crate::now_nanos())
                    .map(|created| created.len())
                    .map_err(|e| e.to_string()),
                Err(reason) => {
                    // A failed run is recorded as done, so a broken rule is retried at its next
                    // instant rather than in a tight loop.
                    match state
                        .store()
                        .finish_run(rule.id(), run_at, &[], crate::now_nanos())
                    {
                        Ok(_) => Err(reason),
                        Err(err) => Err(format!("{reason}; and {err}")),
                    }
                }
            };
            Metrics::add(&state.metrics.rule_runs, 1);
            match &outcome {
                Ok(created) => {
                    Metrics::add(&state.metrics.alerts_created, *created as u64);
                }
                Err(_) => Metrics::add(&state.metrics.rule_failures, 1),
            }
            reports.push(RunReport {
                rule_id: rule.id().to_string(),
                run_at,
                outcome,
            });
        }
        reports
    }

    /// Ticks every `every` until `stop` turns true.
    pub async fn run(self, state: Arc<AppState>, every: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            for report in self.tick(&state, crate::now_nanos(), Some(&stop)).await {
                let at = goshawk_kql_engine::time::format_datetime(report.run_at);
                match report.outcome {
                    Ok(created) => eprintln!(
                        "goshawk serve: rule {} ran as of {at}: {created} new alert(s)",
                        report.rule_id
                    ),
                    Err(reason) => eprintln!(
                        "goshawk serve: rule {} failed as of {at}: {reason}",
                        report.rule_id
                    ),
                }
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600 * NANOS_PER_SECOND;

    #[test]
    fn runs_are_aligned_and_missed_ones_collapse_into_one() {
        // First start: the latest aligned instant.
        assert_eq!(due_run(None, 10 * H + 5, H), Some(10 * H));
        // Already ran at that instant: nothing until the next one.
        assert_eq!(due_run(Some(10 * H), 10 * H + 59, H), None);
        assert_eq!(due_run(Some(10 * H), 11 * H, H), Some(11 * H));
        // Down for five instants: one run, at the latest.
        assert_eq!(due_run(Some(10 * H), 15 * H + 1, H), Some(15 * H));
    }

    #[test]
    fn schedules_come_from_the_rule_files() {
        let sentinel = goshawk_rules::load_str(
            std::path::Path::new("rule.yaml"),
            "id: 5b0c6d0e-0000-4000-8000-000000000001\nname: Test\nkind: Scheduled\n\
             severity: High\nqueryFrequency: 1h\nqueryPeriod: 14d\ntriggerOperator: gt\n\
             triggerThreshold: 0\nquery: |\n  AzureActivity | take 1\n",
        )
        .expect("loads");
        assert_eq!(
            schedule_of(&sentinel),
            Ok(Schedule {
                frequency: H,
                lookback: 14 * 24 * H
            })
        );
        let elastic = goshawk_rules::load_str(
            std::path::Path::new("rule.toml"),
            "[metadata]\ncreation_date = \"2024/01/01\"\n[rule]\nrule_id = \"r-1\"\n\
             name = \"T\"\ndescription = \"d\"\ntype = \"query\"\nlanguage = \"kuery\"\n\
             query = \"x\"\ninterval = \"15m\"\nfrom = \"now-2h\"\nrisk_score = 21\n\
             severity = \"low\"\n",
        )
        .expect("loads");
        assert_eq!(
            schedule_of(&elastic),
            Ok(Schedule {
                frequency: H / 4,
                lookback: 2 * H
            })
        );
    }
}
