//! Tests of the `job` and `runs` tables: the one-way phase and the run records.

use super::{temp, NOW};
use crate::state::{Phase, RunCounters, State, StateError};

#[test]
fn phase_is_one_way_and_runs_are_recorded() {
    let (_dir, path) = temp();
    let mut state = State::open(&path, NOW).unwrap();
    let first = state.start_run(false, NOW).unwrap();
    let counters = RunCounters {
        copied: 10,
        bytes_copied: 12345,
        failed: 1,
        ..RunCounters::default()
    };
    state.update_run(first, &counters).unwrap();
    state.set_phase(Phase::PostCutover, NOW + 5).unwrap();
    state.set_phase(Phase::PostCutover, NOW + 6).unwrap();
    assert!(matches!(
        state.set_phase(Phase::PreCutover, NOW),
        Err(StateError::PhaseBackwards)
    ));
    let second = state.start_run(true, NOW + 10).unwrap();
    state
        .finish_run(second, &RunCounters::default(), "completed", NOW + 11)
        .unwrap();
    drop(state);
    let state = State::open(&path, NOW + 20).unwrap();
    assert_eq!(state.phase().unwrap(), Phase::PostCutover);
    let runs = state.runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].finished_at, None, "the first run was interrupted");
    assert_eq!(
        runs[0].counters, counters,
        "its checkpointed counters survive"
    );
    assert_eq!(runs[0].phase, Phase::PreCutover);
    assert_eq!(runs[1].phase, Phase::PostCutover);
    assert!(runs[1].dry);
    assert_eq!(runs[1].outcome.as_deref(), Some("completed"));
    assert_eq!(runs[1].finished_at, Some(NOW + 11));
}
