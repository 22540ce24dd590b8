//! The `job` table: the one row that says which phase the migration is in (before or after cutover).

use rusqlite::params;

use super::{Phase, Result, State, StateError};

/// The table as schema version 1 created it. Frozen: a change is a new
/// migration step in [`super::schema`], never an edit here.
pub(super) const V1: &str = r#"
-- One row per migration job: which phase it is in.
CREATE TABLE job (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    phase            TEXT    NOT NULL CHECK (phase IN ('pre_cutover', 'post_cutover')),
    created_at       INTEGER NOT NULL,
    phase_changed_at INTEGER
);
"#;

impl State {
    /// The job's phase.
    pub fn phase(&self) -> Result<Phase> {
        let code: String = self
            .conn
            .query_row("SELECT phase FROM job WHERE id = 1", [], |r| r.get(0))
            .map_err(|e| self.sql(e))?;
        Phase::from_code(&code).ok_or(StateError::Decode {
            what: "job.phase",
            value: code,
        })
    }

    /// Moves the job to `phase`. Cutover is one-way.
    ///
    /// # Errors
    /// [`StateError::PhaseBackwards`] when asked to go from post- to pre-cutover.
    pub fn set_phase(&mut self, phase: Phase, now: i64) -> Result<()> {
        let current = self.phase()?;
        if current == phase {
            return Ok(());
        }
        if current == Phase::PostCutover {
            return Err(StateError::PhaseBackwards);
        }
        self.conn
            .execute(
                "UPDATE job SET phase = ?1, phase_changed_at = ?2 WHERE id = 1",
                params![phase.code(), now],
            )
            .map_err(|e| self.sql(e))?;
        tracing::debug!(phase = phase.code(), "job phase changed");
        Ok(())
    }
}
