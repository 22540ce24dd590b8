//! The command list is written twice by necessity — in `build.rs` (one
//! permission per command) and in the isolation frame's allowlist
//! (`ui/isolation/index.js`, plain JavaScript) — so a test keeps them equal:
//! a command added to one and not the other would be refused at run time.

use std::collections::BTreeSet;
use std::path::Path;

/// The quoted names between `start` and the first `end` after it.
fn names(file: &str, start: &str, end: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {file}"))
        + start.len();
    let body = &text[from..from + text[from..].find(end).unwrap()];
    body.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_isolation_allowlist_names_exactly_the_shells_commands() {
    let built = names("build.rs", "const COMMANDS: &[&str] = &[", "];");
    let allowed = names(
        "../ui/isolation/index.js",
        "const allowed = new Set([",
        "]);",
    );
    assert!(built.len() > 10, "the commands were read: {built:?}");
    assert_eq!(
        built, allowed,
        "build.rs and ui/isolation/index.js must list the same commands"
    );
}
