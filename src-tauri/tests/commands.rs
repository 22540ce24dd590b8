//! The command list is written twice by necessity — in `build.rs` (one
//! permission per command) and in the isolation frame's allowlist
//! (`ui/isolation/index.js`, plain JavaScript) — so a test keeps them equal:
//! a command added to one and not the other would be refused at run time.

use std::collections::{BTreeMap, BTreeSet};
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

fn read(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap()
}

/// The commands `lib.rs` registers (`generate_handler![module::name, …]`).
fn registered() -> BTreeSet<String> {
    let lib = read("src/lib.rs");
    let from = lib.find("generate_handler![").unwrap() + "generate_handler![".len();
    let body = &lib[from..from + lib[from..].find(']').unwrap()];
    body.split(',')
        .map(|p| p.trim().rsplit("::").next().unwrap().to_owned())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Tauri's argument name for a Rust parameter (camelCase).
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits at commas outside `<>`, `()`, `[]`, `{}`.
fn top_level(text: &str, sep: char) -> Vec<String> {
    let (mut depth, mut cur, mut out) = (0i32, String::new(), Vec::new());
    for c in text.chars() {
        match c {
            '<' | '(' | '[' | '{' => depth += 1,
            '>' | ')' | ']' | '}' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Every `#[tauri::command]` in src/commands/ with the arguments the
/// window passes (Tauri's own State and AppHandle are not arguments).
fn rust_commands() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for part in text.split("\n#[tauri::command]").skip(1) {
            let fn_at = part.find("fn ").unwrap() + 3;
            let open = fn_at + part[fn_at..].find('(').unwrap();
            let name = part[fn_at..open].trim().to_owned();
            let mut depth = 0;
            let mut close = open;
            for (i, c) in part[open..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            close = open + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let args = top_level(&part[open + 1..close], ',')
                .into_iter()
                .filter_map(|p| {
                    let (arg, ty) = p.split_once(':')?;
                    let ty = ty.trim();
                    let framework = ["State<", "tauri::State<", "AppHandle", "tauri::AppHandle"]
                        .iter()
                        .any(|t| ty.starts_with(t));
                    (!framework).then(|| camel(arg.trim()))
                })
                .collect();
            out.insert(name, args);
        }
    }
    out
}

/// The window's typed command list (`export interface Commands` in api.ts).
fn typed_commands() -> BTreeMap<String, BTreeSet<String>> {
    let api = read("../ui/src/lib/api.ts");
    let from = api.find("export interface Commands {").unwrap();
    let body = &api[from..from + api[from..].find("\n}").unwrap()];
    body.lines()
        .skip(1)
        .filter_map(|line| {
            let (name, rest) = line.trim().split_once(": { args: ")?;
            let args = if let Some(inner) = rest.strip_prefix('{') {
                let inner = &inner[..inner.find("}; ret:").unwrap()];
                top_level(inner, ';')
                    .into_iter()
                    .map(|a| a.split(':').next().unwrap().trim().to_owned())
                    .collect()
            } else {
                assert!(rest.starts_with("None;"), "{line}");
                BTreeSet::new()
            };
            Some((name.to_owned(), args))
        })
        .collect()
}

#[test]
fn the_windows_typed_commands_match_the_shells_with_their_arguments() {
    let built = names("build.rs", "const COMMANDS: &[&str] = &[", "];");
    assert_eq!(
        registered(),
        built,
        "lib.rs registers and build.rs permits the same commands"
    );
    let rust = rust_commands();
    assert_eq!(
        rust.keys().cloned().collect::<BTreeSet<_>>(),
        built,
        "every #[tauri::command] is registered"
    );
    let typed = typed_commands();
    assert!(typed.len() > 10, "the typed list was read: {typed:?}");
    assert_eq!(
        typed, rust,
        "ui/src/lib/api.ts `Commands` must name every command with its arguments"
    );
}
