//! The `runs` table: each run of the engine on the job, its phase, counters and outcome.

use rusqlite::params;

use super::columns::{to_i64, to_u64};
use super::{Phase, Result, RunCounters, RunId, RunRecord, State, StateError};

/// The table as schema version 1 created it. Frozen: a change is a new
/// migration step in [`super::schema`], never an edit here.
pub(super) const V1: &str = r#"
-- Each run of the engine on this job.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,                -- NULL: still running, or interrupted
    phase         TEXT    NOT NULL CHECK (phase IN ('pre_cutover', 'post_cutover')),
    dry           INTEGER NOT NULL,
    outcome       TEXT,
    copied        INTEGER NOT NULL DEFAULT 0,
    already_there INTEGER NOT NULL DEFAULT 0,
    excluded      INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    removed       INTEGER NOT NULL DEFAULT 0,
    flags_updated INTEGER NOT NULL DEFAULT 0,
    bytes_copied  INTEGER NOT NULL DEFAULT 0
);
"#;

impl State {
    /// Records the start of a run, in the job's current phase.
    pub fn start_run(&mut self, dry: bool, now: i64) -> Result<RunId> {
        let phase = self.phase()?;
        self.conn
            .execute(
                "INSERT INTO runs (started_at, phase, dry) VALUES (?1, ?2, ?3)",
                params![now, phase.code(), dry],
            )
            .map_err(|e| self.sql(e))?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    /// Saves a run's counters so far (a checkpoint; an interrupted run keeps them).
    pub fn update_run(&mut self, run: RunId, counters: &RunCounters) -> Result<()> {
        self.write_run(run, counters, None, None)
    }

    /// Records the end of a run, its counters and its outcome in the engine's words.
    pub fn finish_run(
        &mut self,
        run: RunId,
        counters: &RunCounters,
        outcome: &str,
        now: i64,
    ) -> Result<()> {
        self.write_run(run, counters, Some(outcome), Some(now))
    }

    fn write_run(
        &mut self,
        run: RunId,
        c: &RunCounters,
        outcome: Option<&str>,
        finished_at: Option<i64>,
    ) -> Result<()> {
        let n = self
            .conn
            .execute(
                "UPDATE runs SET copied = ?2, already_there = ?3, excluded = ?4, skipped = ?5,
                     failed = ?6, removed = ?7, flags_updated = ?8, bytes_copied = ?9,
                     outcome = COALESCE(?10, outcome), finished_at = COALESCE(?11, finished_at)
                 WHERE id = ?1",
                params![
                    run.0,
                    to_i64(c.copied)?,
                    to_i64(c.already_there)?,
                    to_i64(c.excluded)?,
                    to_i64(c.skipped)?,
                    to_i64(c.failed)?,
                    to_i64(c.removed)?,
                    to_i64(c.flags_updated)?,
                    to_i64(c.bytes_copied)?,
                    outcome,
                    finished_at
                ],
            )
            .map_err(|e| self.sql(e))?;
        if n == 0 {
            return Err(StateError::Decode {
                what: "runs.id",
                value: run.0.to_string(),
            });
        }
        Ok(())
    }

    /// Every run of the job, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, started_at, finished_at, phase, dry, outcome, copied, already_there,
                     excluded, skipped, failed, removed, flags_updated, bytes_copied
                 FROM runs ORDER BY id",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                let mut counts = [0i64; 8];
                for (i, c) in counts.iter_mut().enumerate() {
                    *c = r.get(6 + i)?;
                }
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    counts,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, started_at, finished_at, phase, dry, outcome, c) =
                row.map_err(|e| self.sql(e))?;
            let n = |i: usize| to_u64(c[i], "runs counters");
            out.push(RunRecord {
                id: RunId(id),
                started_at,
                finished_at,
                phase: Phase::from_code(&phase).ok_or(StateError::Decode {
                    what: "runs.phase",
                    value: phase.clone(),
                })?,
                dry,
                outcome,
                counters: RunCounters {
                    copied: n(0)?,
                    already_there: n(1)?,
                    excluded: n(2)?,
                    skipped: n(3)?,
                    failed: n(4)?,
                    removed: n(5)?,
                    flags_updated: n(6)?,
                    bytes_copied: n(7)?,
                },
            });
        }
        Ok(out)
    }
}
