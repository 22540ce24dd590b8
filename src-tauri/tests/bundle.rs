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
