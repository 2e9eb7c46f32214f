//! The alert store and the scheduler's state: one SQLite database in the state directory.
//!
//! An alert is unique by rule, entity and event window (a UNIQUE constraint, not a check in
//! code), so a rule whose lookback overlaps its previous run, or a run repeated after a crash,
//! finds the alert already there instead of adding a second one.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde::Serialize;
use serde_json::Value;

use crate::error::ServeError;

pub const STORE_FILE: &str = "goshawk.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    rule_id TEXT NOT NULL,
    rule_name TEXT NOT NULL,
    severity TEXT NOT NULL,
    tactics TEXT NOT NULL,
    techniques TEXT NOT NULL,
    description TEXT NOT NULL,
    entity TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    window_end INTEGER NOT NULL,
    evidence TEXT NOT NULL,
    entities TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'acknowledged', 'closed')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (rule_id, entity, window_start, window_end)
);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts (status, id);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule_id, id);
CREATE TABLE IF NOT EXISTS schedule (
    rule_id TEXT PRIMARY KEY,
    last_window_end INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    New,
    Acknowledged,
    Closed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::New => "new",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }
}

impl FromStr for AlertStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<AlertStatus, String> {
        match text {
            "new" => Ok(AlertStatus::New),
            "acknowledged" => Ok(AlertStatus::Acknowledged),
            "closed" => Ok(AlertStatus::Closed),
            other => Err(format!(
                "'{other}' is not an alert status (new, acknowledged, closed)"
            )),
        }
    }
}

/// An alert as a rule run produces it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub rule_id: String,
    pub rule_name: String,
    pub severity: String,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub description: String,
    /// The entity the alert is about (e.g. `account:alice@contoso.com`); part of the identity.
    pub entity: String,
    /// The event window (ns since the epoch, UTC); part of the identity.
    pub window_start: i64,
    pub window_end: i64,
    pub evidence: Value,
    pub entities: Value,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: i64,
    pub rule_id: String,
    pub rule_name: String,
    pub severity: String,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub description: String,
    pub entity: String,
    pub window_start: String,
    pub window_end: String,
    pub evidence: Value,
    pub entities: Value,
    pub status: AlertStatus,
    pub created_at: String,
    pub updated_at: String,
}

/// `GET /api/alerts` filters; every field narrows the result.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub rule_id: Option<String>,
    pub severity: Option<String>,
    pub entity: Option<String>,
    /// Only alerts whose event window ends at or after this instant (ns).
    pub since: Option<i64>,
    pub limit: u32,
    pub offset: u32,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, ServeError> {
        let err = |source| ServeError::Store {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        // WAL: a committed transaction survives a SIGKILL of the process; readers do not block
        // the writer.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> ServeError {
        ServeError::Store {
            path: self.path.clone(),
            source,
        }
    }

    /// Stores `alert` unless one with the same rule, entity and event window exists. Returns
    /// the new alert's id, or None for a duplicate.
    pub fn insert_alert(&self, alert: &NewAlert, now: i64) -> Result<Option<i64>, ServeError> {
        insert_alert(&self.conn, alert, now).map_err(|e| self.err(e))
    }

    /// The alerts matching `filter`, newest first, and how many match in all.
    pub fn list_alerts(&self, filter: &AlertFilter) -> Result<(Vec<Alert>, u64), ServeError> {
        let mut clauses = Vec::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(status) = filter.status {
            clauses.push("status = ?");
            args.push(status.as_str().to_string().into());
        }
        if let Some(rule) = &filter.rule_id {
            clauses.push("rule_id = ?");
            args.push(rule.clone().into());
        }
        if let Some(severity) = &filter.severity {
            clauses.push("severity = ? COLLATE NOCASE");
            args.push(severity.clone().into());
        }
        if let Some(entity) = &filter.entity {
            clauses.push("entity = ?");
            args.push(entity.clone().into());
        }
        if let Some(since) = filter.since {
            clauses.push("window_end >= ?");
            args.push(since.into());
        }
        let condition = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) FROM alerts{condition}"),
                params_from_iter(args.iter()),
                |row| row.get(0),
            )
            .map_err(|e| self.err(e))?;
        let mut paged = args.clone();
        paged.push(i64::from(filter.limit).into());
        paged.push(i64::from(filter.offset).into());
        let mut statement = self
            .conn
            .prepare(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts{condition} ORDER BY id DESC LIMIT ? OFFSET ?"
            ))
            .map_err(|e| self.err(e))?;
        let alerts = statement
            .query_map(params_from_iter(paged.iter()), alert_from_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok((alerts, u64::try_from(total).unwrap_or(0)))
    }

    pub fn alert(&self, id: i64) -> Result<Option<Alert>, ServeError> {
        self.conn
            .query_row(
                &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"),
                params![id],
                alert_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets an alert's status; None when there is no such alert.
    pub fn set_status(
        &self,
        id: i64,
        status: AlertStatus,
        now: i64,
    ) -> Result<Option<Alert>, ServeError> {
        let changed = self
            .conn
            .execute(
                "UPDATE alerts SET status = ?1, updated_at = ?2 WHERE id = ?3",
                params![status.as_str(), now, id],
            )
            .map_err(|e| self.err(e))?;
        if changed == 0 {
            return Ok(None);
        }
        self.alert(id)
    }

    /// The end of the last event window a rule was run over, if it ever ran.
    pub fn last_window_end(&self, rule_id: &str) -> Result<Option<i64>, ServeError> {
        self.conn
            .query_row(
                "SELECT last_window_end FROM schedule WHERE rule_id = ?1",
                params![rule_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records a finished run together with the alerts it produced, in one transaction, so a
    /// crash leaves either both or neither: the run is then repeated and finds no duplicate.
    pub fn finish_run(
        &mut self,
        rule_id: &str,
        window_end: i64,
        alerts: &[NewAlert],
        now: i64,
    ) -> Result<Vec<i64>, ServeError> {
        let path = self.path.clone();
        let err = |source| ServeError::Store {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let mut created = Vec::new();
        for alert in alerts {
            if let Some(id) = insert_alert(&tx, alert, now).map_err(err)? {
                created.push(id);
            }
        }
        tx.execute(
            "INSERT INTO schedule (rule_id, last_window_end, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (rule_id) DO UPDATE SET last_window_end = excluded.last_window_end,
                 updated_at = excluded.updated_at",
            params![rule_id, window_end, now],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(created)
    }
}

fn insert_alert(conn: &Connection, alert: &NewAlert, now: i64) -> rusqlite::Result<Option<i64>> {
    let inserted = conn.execute(
        "INSERT INTO alerts (rule_id, rule_name, severity, tactics, techniques, description,
             entity, window_start, window_end, evidence, entities, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'new', ?12, ?12)
         ON CONFLICT (rule_id, entity, window_start, window_end) DO NOTHING",
        params![
            alert.rule_id,
            alert.rule_name,
            alert.severity,
            Value::from(alert.tactics.clone()).to_string(),
            Value::from(alert.techniques.clone()).to_string(),
            alert.description,
            alert.entity,
            alert.window_start,
            alert.window_end,
            alert.evidence.to_string(),
            alert.entities.to_string(),
            now,
        ],
    )?;
    Ok((inserted == 1).then(|| conn.last_insert_rowid()))
}

const ALERT_COLUMNS: &str = "id, rule_id, rule_name, severity, tactics, techniques, description, \
     entity, window_start, window_end, evidence, entities, status, created_at, updated_at";

fn alert_from_row(row: &rusqlite::Row) -> rusqlite::Result<Alert> {
    let json = |i: usize| -> rusqlite::Result<Value> {
        let text: String = row.get(i)?;
        serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    };
    let strings = |i: usize| -> rusqlite::Result<Vec<String>> {
        Ok(json(i)?
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    };
    let time = |i: usize| -> rusqlite::Result<String> {
        Ok(goshawk_kql_engine::time::format_datetime(row.get(i)?))
    };
    let status: String = row.get(12)?;
    Ok(Alert {
        id: row.get(0)?,
        rule_id: row.get(1)?,
        rule_name: row.get(2)?,
        severity: row.get(3)?,
        tactics: strings(4)?,
        techniques: strings(5)?,
        description: row.get(6)?,
        entity: row.get(7)?,
        window_start: time(8)?,
        window_end: time(9)?,
        evidence: json(10)?,
        entities: json(11)?,
        status: status.parse().map_err(|message: String| {
            rusqlite::Error::FromSqlConversionFailure(
                12,
                rusqlite::types::Type::Text,
                message.into(),
            )
        })?,
        created_at: time(13)?,
        updated_at: time(14)?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn alert(entity: &str, start: i64) -> NewAlert {
        NewAlert {
            rule_id: "R-1".into(),
            rule_name: "Rule one".into(),
            severity: "High".into(),
            tactics: vec!["Persistence".into()],
            techniques: vec!["T1098".into()],
            description: "something happened".into(),
            entity: entity.into(),
            window_start: start,
            window_end: start + 3_600_000_000_000,
            evidence: json!([{"Count": 3}]),
            entities: json!([{"type": "account", "name": entity}]),
        }
    }

    #[test]
    fn the_same_rule_entity_and_window_is_stored_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join(STORE_FILE)).expect("open");
        let first = store
            .finish_run("R-1", 10, &[alert("alice", 0), alert("bob", 0)], 1)
            .expect("run");
        assert_eq!(first.len(), 2);
        // The next run's lookback overlaps: alice's window again, plus a new window for bob.
        let second = store
            .finish_run("R-1", 20, &[alert("alice", 0), alert("bob", 7)], 2)
            .expect("run");
        assert_eq!(second.len(), 1);
        assert_eq!(store.last_window_end("R-1").expect("state"), Some(20));
        drop(store);
        let store = Store::open(&dir.path().join(STORE_FILE)).expect("reopen");
        let (alerts, total) = store
            .list_alerts(&AlertFilter {
                limit: 10,
                ..AlertFilter::default()
            })
            .expect("list");
        assert_eq!(total, 3);
        assert_eq!(alerts[0].entity, "bob");
        assert_eq!(alerts[0].evidence, json!([{"Count": 3}]));
        assert_eq!(
            store.insert_alert(&alert("bob", 7), 3).expect("insert"),
            None
        );
    }

    #[test]
    fn status_changes_and_filters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join(STORE_FILE)).expect("open");
        let a = store
            .insert_alert(&alert("a", 0), 1)
            .expect("a")
            .expect("new");
        let b = store
            .insert_alert(&alert("b", 0), 1)
            .expect("b")
            .expect("new");
        let updated = store
            .set_status(a, AlertStatus::Acknowledged, 2)
            .expect("set")
            .expect("exists");
        assert_eq!(updated.status, AlertStatus::Acknowledged);
        assert_eq!(
            store.set_status(999, AlertStatus::Closed, 2).expect("set"),
            None
        );
        let (alerts, total) = store
            .list_alerts(&AlertFilter {
                status: Some(AlertStatus::New),
                limit: 10,
                ..AlertFilter::default()
            })
            .expect("list");
        assert_eq!((total, alerts.len(), alerts[0].id), (1, 1, b));
        let (page, total) = store
            .list_alerts(&AlertFilter {
                limit: 1,
                offset: 1,
                ..AlertFilter::default()
            })
            .expect("page");
        assert_eq!((total, page.len(), page[0].id), (2, 1, a));
    }
}
