//! The installers' configuration: `tauri.conf.json` bundles for every
//! desktop platform, with icons of the sizes each platform needs (read from
//! the files' headers, not their names).

use std::path::{Path, PathBuf};

use serde_json::Value;

fn src_tauri() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config() -> Value {
    let text = std::fs::read_to_string(src_tauri().join("tauri.conf.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

/// Width and height from a PNG's IHDR chunk (bytes 16..24).
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "{} is not a PNG",
        path.display()
    );
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The square size a generated icon's name promises: `128x128@2x.png` is
/// 256 pixels, `Square44x44Logo.png` 44; `None` for names without a size.
fn promised_size(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(".png")?;
    let (stem, scale) = match stem.strip_suffix("@2x") {
        Some(s) => (s, 2),
        None => (stem, 1),
    };
    let stem = stem.trim_start_matches("Square").trim_end_matches("Logo");
    let (w, h) = stem.split_once('x')?;
    let (w, h): (u32, u32) = (w.parse().ok()?, h.parse().ok()?);
    assert_eq!(w, h, "{name}: icons are square");
    Some(w * scale)
}

#[test]
fn bundle_targets_every_desktop_platform() {
    let config = config();
    let bundle = &config["bundle"];
    assert_eq!(bundle["active"], true, "bundling is on");
    let targets = strings(&bundle["targets"]);
    for wanted in ["app", "dmg", "nsis", "msi", "deb", "rpm"] {
        assert!(
            targets.contains(&wanted),
            "bundle.targets lacks {wanted}: {targets:?}"
        );
    }
    // The version comes from the workspace's Cargo.toml, never a second copy.
    assert!(
        config.get("version").is_none(),
        "version is the workspace's"
    );
    assert_eq!(config["identifier"], "app.mailferry.desktop");
    assert_eq!(config["productName"], "MailFerry");
    for field in [
        "publisher",
        "copyright",
        "category",
        "shortDescription",
        "longDescription",
    ] {
        assert!(
            bundle[field].as_str().is_some_and(|s| !s.is_empty()),
            "bundle.{field} is set"
        );
    }
    let licence = src_tauri().join(bundle["licenseFile"].as_str().unwrap());
    assert!(
        licence.is_file(),
        "licence file {} exists",
        licence.display()
    );
    assert!(bundle["macOS"]["minimumSystemVersion"].is_string());
    assert_eq!(
        bundle["windows"]["nsis"]["installMode"], "currentUser",
        "per-user NSIS install"
    );
    assert!(bundle["windows"]["webviewInstallMode"]["type"]
        .as_str()
        .is_some_and(|t| t.ends_with("Bootstrapper")));
    assert!(bundle["windows"]["minimumWebview2Version"].is_string());
}

#[test]
fn every_icon_exists_in_the_size_its_platform_needs() {
    let config = config();
    let icons = strings(&config["bundle"]["icon"]);
    let mut sizes = Vec::new();
    for icon in &icons {
        let path = src_tauri().join(icon);
        assert!(path.is_file(), "{icon} exists");
        let name = path.file_name().unwrap().to_str().unwrap();
        if name.ends_with(".png") {
            let (w, h) = png_size(&path);
            assert_eq!(w, h, "{icon} is square");
            if let Some(promised) = promised_size(name) {
                assert_eq!(w, promised, "{icon} is {promised} pixels");
            }
            sizes.push(w);
        }
    }
    for needed in [32, 128, 256, 512] {
        assert!(
            sizes.contains(&needed),
            "a {needed}px PNG is listed: {sizes:?}"
        );
    }
    assert!(icons.contains(&"icons/128x128@2x.png"));

    // macOS: an .icns; Windows: an .ico whose directory holds 16, 32 and 256.
    let icns = icons
        .iter()
        .find(|i| i.ends_with(".icns"))
        .expect("an .icns is listed");
    assert!(std::fs::read(src_tauri().join(icns))
        .unwrap()
        .starts_with(b"icns"));
    let ico = icons
        .iter()
        .find(|i| i.ends_with(".ico"))
        .expect("an .ico is listed");
    let ico = std::fs::read(src_tauri().join(ico)).unwrap();
    assert_eq!(&ico[..4], &[0, 0, 1, 0], "an icon directory");
    let count = u16::from_le_bytes([ico[4], ico[5]]) as usize;
    let ico_sizes: Vec<u32> = (0..count)
        .map(|i| match ico[6 + 16 * i] {
            0 => 256,
            w => u32::from(w),
        })
        .collect();
    for needed in [16, 32, 256] {
        assert!(
            ico_sizes.contains(&needed),
            ".ico has {needed}px: {ico_sizes:?}"
        );
    }

    // Windows Store logos (Square*Logo, StoreLogo), as `tauri icon` makes them.
    let dir = src_tauri().join("icons");
    for size in [30, 44, 71, 89, 107, 142, 150, 284, 310] {
        let name = format!("Square{size}x{size}Logo.png");
        assert_eq!(png_size(&dir.join(&name)), (size, size), "{name}");
    }
    assert_eq!(png_size(&dir.join("StoreLogo.png")), (50, 50));
    assert!(
        dir.join("mailferry.svg").is_file(),
        "the source image is kept"
    );
}

fn workflow() -> (String, serde_norway::Value) {
    let path = src_tauri().join("../.github/workflows/release.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let yaml = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("release.yml: {e}"));
    (text, yaml)
}

fn yaml_str(value: &serde_norway::Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value:?}"))
}

#[test]
fn release_workflow_builds_every_target_on_a_version_tag() {
    let (text, yaml) = workflow();
    // `on` is a plain key in YAML 1.2 (the parser here); a YAML 1.1 reader
    // would see `true`, as GitHub's own does not.
    let on = yaml.get("on").expect("an `on:` trigger");
    let tags = on["push"]["tags"].as_sequence().expect("on.push.tags");
    assert!(
        tags.iter().any(|t| yaml_str(t).starts_with('v')),
        "version tags trigger it"
    );

    let jobs = &yaml["jobs"];
    let draft_script = yaml_str(&jobs["draft"]["steps"][0]["with"]["script"]);
    assert!(
        draft_script.contains("draft: true"),
        "uploads go to a draft release"
    );

    let job = &jobs["installers"];
    let matrix = job["strategy"]["matrix"]["include"].as_sequence().unwrap();
    let platforms: Vec<&str> = matrix.iter().map(|m| yaml_str(&m["platform"])).collect();
    for runner in ["macos-latest", "windows-latest", "ubuntu-22.04"] {
        assert!(
            platforms.contains(&runner),
            "matrix lacks {runner}: {platforms:?}"
        );
    }
    let mac = matrix
        .iter()
        .find(|m| m["platform"] == "macos-latest")
        .unwrap();
    assert!(yaml_str(&mac["args"]).contains("--target universal-apple-darwin"));
    for rust_target in ["aarch64-apple-darwin", "x86_64-apple-darwin"] {
        assert!(
            yaml_str(&mac["rust-targets"]).contains(rust_target),
            "{rust_target}"
        );
    }

    // Every bundle target in tauri.conf.json is built by some runner.
    let built: Vec<&str> = matrix
        .iter()
        .flat_map(|m| {
            let args = yaml_str(&m["args"]);
            let bundles = args
                .split("--bundles ")
                .nth(1)
                .expect("--bundles per runner");
            bundles.split_whitespace().next().unwrap().split(',')
        })
        .collect();
    for target in strings(&config()["bundle"]["targets"]) {
        assert!(
            built.contains(&target),
            "no runner builds {target}: {built:?}"
        );
    }

    let steps = job["steps"].as_sequence().unwrap();
    let tauri = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("tauri-apps/tauri-action@"))
        })
        .expect("the official tauri-action builds and uploads");
    assert!(
        tauri["with"]["releaseId"].is_string(),
        "uploads into the draft"
    );

    // Signing, notarisation and update signatures are wired to secrets.
    for secret in [
        "APPLE_CERTIFICATE",
        "APPLE_CERTIFICATE_PASSWORD",
        "APPLE_SIGNING_IDENTITY",
        "APPLE_ID",
        "APPLE_PASSWORD",
        "APPLE_TEAM_ID",
        "WINDOWS_CERTIFICATE",
        "TAURI_SIGNING_PRIVATE_KEY",
    ] {
        assert!(
            text.contains(&format!("${{{{ secrets.{secret} }}}}")),
            "{secret} is read from the repository's secrets"
        );
    }
    assert_eq!(
        config()["bundle"]["createUpdaterArtifacts"],
        true,
        "signed update bundles (turned off by the workflow when the key is absent)"
    );
    // The bundler refuses update bundles without the updater's config.
    let updater = &config()["plugins"]["updater"];
    assert!(updater["pubkey"].is_string(), "plugins.updater.pubkey");
    // The repository's public key replaces the placeholder at release time;
    // a build from source carries the placeholder and never checks.
    assert!(
        text.contains("${{ vars.TAURI_UPDATER_PUBKEY }}")
            && text.contains("plugins: {updater: {pubkey: $key}}"),
        "the release puts the public key into the app it builds"
    );
    assert!(
        !mailferry_desktop::commands::update::is_update_key(updater["pubkey"].as_str().unwrap()),
        "the committed config holds no key of anyone's"
    );
    for endpoint in strings(&updater["endpoints"]) {
        assert!(endpoint.starts_with("https://"), "{endpoint}");
    }
}
