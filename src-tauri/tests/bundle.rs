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
    let draft_script = yaml_str(&step_by_id(&yaml, "draft", "draft")["with"]["script"]);
    assert!(
        draft_script.contains("draft: true"),
        "uploads go to a draft release"
    );

    let job = &jobs["installers"];
    let matrix = job["strategy"]["matrix"]["include"].as_sequence().unwrap();
    let platforms: Vec<&str> = matrix.iter().map(|m| yaml_str(&m["platform"])).collect();
    for runner in ["macos-latest", "windows-latest", "ubuntu-24.04"] {
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

    // Every bundle target in tauri.conf.json is built by some runner. The
    // Windows list comes from the version check (nsis,msi for a release;
    // see release_workflow_checks_the_tag_against_the_version).
    let windows = matrix.iter().find(|m| m["name"] == "windows").unwrap();
    assert_eq!(
        yaml_str(&windows["args"]),
        "--bundles ${{ needs.draft.outputs.windows-bundles }}"
    );
    let built: Vec<String> = matrix
        .iter()
        .flat_map(|m| {
            let args = yaml_str(&m["args"])
                .replace("${{ needs.draft.outputs.windows-bundles }}", "nsis,msi");
            let bundles = args
                .split("--bundles ")
                .nth(1)
                .expect("--bundles per runner")
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned();
            bundles.split(',').map(str::to_owned).collect::<Vec<_>>()
        })
        .collect();
    for target in strings(&config()["bundle"]["targets"]) {
        assert!(
            built.iter().any(|b| b == target),
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
        "APPLE_API_KEY",
        "APPLE_API_ISSUER",
        "APPLE_API_PRIVATE_KEY",
        "WINDOWS_CERTIFICATE",
        "WINDOWS_CERTIFICATE_PASSWORD",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_TENANT_ID",
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
            && text.contains("{plugins: {updater: {pubkey: $key, endpoints: [$url]}}}"),
        "the release puts the public key and its own latest.json into the app it builds"
    );
    assert!(
        !mailferry_desktop::commands::update::is_update_key(updater["pubkey"].as_str().unwrap()),
        "the committed config holds no key of anyone's"
    );
    for endpoint in strings(&updater["endpoints"]) {
        assert!(endpoint.starts_with("https://"), "{endpoint}");
    }
}

/// Every `uses:` of the workflow, as (action, version).
fn actions(yaml: &serde_norway::Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (_, job) in yaml["jobs"].as_mapping().unwrap() {
        for step in job["steps"].as_sequence().unwrap() {
            if let Some(uses) = step["uses"].as_str() {
                let (action, version) = uses.split_once('@').expect("action@version");
                found.push((action.to_owned(), version.to_owned()));
            }
        }
    }
    found
}

fn step<'a>(yaml: &'a serde_norway::Value, job: &str, name: &str) -> &'a serde_norway::Value {
    yaml["jobs"][job]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("job {job} has a step {name:?}"))
}

/// The major version of `vN` (or `vN.M.P`).
fn major(version: &str) -> u32 {
    version
        .strip_prefix('v')
        .and_then(|v| v.split('.').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("not a vN version: {version}"))
}

#[test]
fn release_workflow_runs_on_node_24_actions_and_supported_runners() {
    let (text, yaml) = workflow();
    // The first majors that run on Node 24 (Node 20 is gone from the
    // hosted runners): tauri-action v1, checkout v5, setup-node v5,
    // github-script v8.
    let minimum = [
        ("tauri-apps/tauri-action", 1),
        ("actions/checkout", 5),
        ("actions/setup-node", 5),
        ("actions/github-script", 8),
    ];
    let used = actions(&yaml);
    for (action, least) in minimum {
        let versions: Vec<&str> = used
            .iter()
            .filter(|(a, _)| a == action)
            .map(|(_, v)| v.as_str())
            .collect();
        assert!(!versions.is_empty(), "{action} is used");
        for version in versions {
            assert!(
                major(version) >= least,
                "{action}@{version}: Node 24 needs v{least}"
            );
        }
    }
    // v0's input is gone in v1: it would be ignored with a warning.
    let tauri = step_by_uses(&yaml, "installers", "tauri-apps/tauri-action");
    assert!(
        tauri["with"].get("includeUpdaterJson").is_none(),
        "v1 calls it uploadUpdaterJson"
    );

    // Runner images: ubuntu-22.04 is being retired.
    assert!(!text.contains("ubuntu-22.04"));
    for (name, job) in yaml["jobs"].as_mapping().unwrap() {
        let runs_on = yaml_str(&job["runs-on"]);
        assert!(
            ["ubuntu-24.04", "${{ matrix.platform }}"].contains(&runs_on),
            "{name:?} runs on {runs_on}"
        );
    }
    // Ubuntu 24.04's package names (libappindicator3-dev is not in it).
    let deps = yaml_str(&step(&yaml, "installers", "Linux build dependencies")["run"]);
    assert!(
        deps.contains("libwebkit2gtk-4.1-dev") && deps.contains("libayatana-appindicator3-dev")
    );
    assert!(!deps.contains("libappindicator3-dev"), "{deps}");

    // A release is built without caches another run could have written.
    assert!(!used.iter().any(|(a, _)| a == "Swatinem/rust-cache"));
    assert!(!text.contains("cache: npm"));
    let node = step_by_uses(&yaml, "installers", "actions/setup-node");
    assert_eq!(node["with"]["package-manager-cache"], false);
}

#[test]
fn latest_json_is_written_once_after_every_platform() {
    let (_, yaml) = workflow();
    let jobs = &yaml["jobs"];
    let tauri = jobs["installers"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("tauri-apps/tauri-action@"))
        })
        .unwrap();
    assert_eq!(
        tauri["with"]["uploadUpdaterJson"], false,
        "the matrix jobs would race on one latest.json"
    );
    assert_eq!(tauri["with"]["uploadUpdaterSignatures"], true);
    assert_eq!(tauri["with"]["tagName"], "${{ github.ref_name }}");
    let manifest = &jobs["updater-manifest"];
    let needs: Vec<&str> = manifest["needs"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(yaml_str)
        .collect();
    assert!(
        needs.contains(&"installers"),
        "after every platform: {needs:?}"
    );
    // Exactly one step anywhere writes latest.json.
    let writers = jobs
        .as_mapping()
        .unwrap()
        .iter()
        .flat_map(|(_, job)| job["steps"].as_sequence().unwrap())
        .filter(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("release upload"))
        })
        .count();
    assert_eq!(writers, 1);
}

/// What a dry run of one `run:` step left: its exit status, what it
/// printed, and the variables and outputs it set.
struct Ran {
    ok: bool,
    stdout: String,
    env: std::collections::BTreeMap<String, String>,
    outputs: std::collections::BTreeMap<String, String>,
    temp: tempfile::TempDir,
}

impl Ran {
    /// The `--config` JSON the signing step wrote.
    fn config(&self) -> Value {
        let path = self.outputs.get("config").expect("a config output");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

/// `NAME=value` lines and `NAME<<DELIM` … `DELIM` blocks, as the runner
/// reads GITHUB_ENV and GITHUB_OUTPUT.
fn github_file(path: &Path) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut map = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            map.insert(name.to_owned(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            map.insert(name.to_owned(), value.to_owned());
        }
    }
    map
}

/// Runs a `shell: bash` step as the runner does (`bash --noprofile
/// --norc -eo pipefail`), in `dir`, with only `env` (and PATH) set.
fn dry_run(script: &str, dir: &Path, os: &str, env: &[(&str, &str)], path: Option<&Path>) -> Ran {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("step.sh");
    std::fs::write(&file, script).unwrap();
    let mut search = std::env::var("PATH").unwrap();
    if let Some(extra) = path {
        search = format!("{}:{search}", extra.display());
    }
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&file)
        .current_dir(dir)
        .env_clear()
        .env("PATH", search)
        .env("RUNNER_OS", os)
        .env("RUNNER_TEMP", temp.path())
        .env("GITHUB_ENV", temp.path().join("env"))
        .env("GITHUB_OUTPUT", temp.path().join("output"))
        .env("GITHUB_REPOSITORY", "mailferry-org/mailferry")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
        env: github_file(&temp.path().join("env")),
        outputs: github_file(&temp.path().join("output")),
        temp,
    }
}

fn signing(os: &str, secrets: &[(&str, &str)]) -> Ran {
    let (_, yaml) = workflow();
    let script =
        yaml_str(&step(&yaml, "installers", "Signing (only what is configured)")["run"]).to_owned();
    dry_run(&script, &src_tauri(), os, secrets, None)
}

const CERT: (&str, &str) = ("APPLE_CERTIFICATE", "MIIK\nbase64 of a .p12\n==");
const IDENTITY: (&str, &str) = (
    "APPLE_SIGNING_IDENTITY",
    "Developer ID Application: MailFerry (TEAM123)",
);

#[test]
fn unsigned_macos_builds_are_ad_hoc_signed() {
    let ran = signing("macOS", &[]);
    assert!(ran.ok, "{}", ran.stdout);
    assert_eq!(
        ran.config()["bundle"]["macOS"]["signingIdentity"],
        "-",
        "ad-hoc signed, or Apple Silicon calls the app damaged"
    );
    assert!(
        ran.env.keys().all(|k| !k.starts_with("APPLE_")),
        "{:?}",
        ran.env
    );
    assert_eq!(ran.config()["bundle"]["createUpdaterArtifacts"], false);
}

#[test]
fn a_developer_id_build_that_is_not_notarised_stops_the_release() {
    let ran = signing("macOS", &[CERT, IDENTITY]);
    assert!(
        !ran.ok,
        "Gatekeeper blocks a signed app that is not notarised"
    );
    assert!(
        ran.stdout.contains("::error::") && ran.stdout.contains("notarised"),
        "{}",
        ran.stdout
    );

    let half = signing("macOS", &[CERT]);
    assert!(!half.ok, "a certificate without its identity");
}

#[test]
fn macos_notarises_with_an_app_store_connect_key_or_an_apple_id() {
    let ran = signing(
        "macOS",
        &[
            CERT,
            IDENTITY,
            ("APPLE_API_KEY", "ABC123"),
            ("APPLE_API_ISSUER", "issuer-uuid"),
            (
                "APPLE_API_PRIVATE_KEY",
                "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----",
            ),
        ],
    );
    assert!(ran.ok, "{}", ran.stdout);
    assert_eq!(
        ran.env["APPLE_CERTIFICATE"], CERT.1,
        "a multi-line secret survives"
    );
    assert_eq!(ran.env["APPLE_SIGNING_IDENTITY"], IDENTITY.1);
    assert_eq!(
        ran.env["APPLE_CERTIFICATE_PASSWORD"], "",
        "an empty password is passed as empty"
    );
    assert_eq!(ran.env["APPLE_API_KEY"], "ABC123");
    assert_eq!(ran.env["APPLE_API_ISSUER"], "issuer-uuid");
    let key = Path::new(&ran.env["APPLE_API_KEY_PATH"]);
    assert!(key.starts_with(ran.temp.path()) && key.ends_with("AuthKey_ABC123.p8"));
    assert!(std::fs::read_to_string(key)
        .unwrap()
        .contains("BEGIN PRIVATE KEY"));
    assert!(
        !ran.env.contains_key("APPLE_API_PRIVATE_KEY"),
        "the key goes by file only"
    );
    assert!(ran.config()["bundle"]["macOS"].is_null(), "not ad-hoc");

    let ran = signing(
        "macOS",
        &[
            CERT,
            IDENTITY,
            ("APPLE_CERTIFICATE_PASSWORD", "p12-pw"),
            ("APPLE_ID", "dev@mailferry.invalid"),
            ("APPLE_PASSWORD", "abcd-efgh"),
            ("APPLE_TEAM_ID", "TEAM123"),
        ],
    );
    assert!(ran.ok, "{}", ran.stdout);
    assert_eq!(ran.env["APPLE_CERTIFICATE_PASSWORD"], "p12-pw");
    assert_eq!(ran.env["APPLE_ID"], "dev@mailferry.invalid");
    assert_eq!(ran.env["APPLE_TEAM_ID"], "TEAM123");
}

const AZURE: [(&str, &str); 6] = [
    ("AZURE_CLIENT_ID", "client"),
    ("AZURE_CLIENT_SECRET", "secret"),
    ("AZURE_TENANT_ID", "tenant"),
    (
        "AZURE_SIGNING_ENDPOINT",
        "https://eus.codesigning.azure.net",
    ),
    ("AZURE_SIGNING_ACCOUNT", "mailferry"),
    ("AZURE_SIGNING_PROFILE", "public"),
];

#[test]
fn windows_signs_by_certificate_or_azure_artifact_signing_never_half() {
    let (_, yaml) = workflow();
    let unsigned = signing("Windows", &[]);
    assert!(unsigned.ok, "{}", unsigned.stdout);
    assert!(
        unsigned.stdout.contains("::warning::"),
        "{}",
        unsigned.stdout
    );
    assert!(unsigned.config()["bundle"]["windows"].is_null());

    let azure = signing("Windows", &AZURE);
    assert!(azure.ok, "{}", azure.stdout);
    assert_eq!(
        azure.config()["bundle"]["windows"]["signCommand"],
        "artifact-signing-cli -e https://eus.codesigning.azure.net -a mailferry -c public -d MailFerry %1"
    );
    for name in ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"] {
        assert!(
            azure.env.contains_key(name),
            "{name} reaches the signing tool"
        );
    }
    assert_eq!(azure.outputs["artifact-signing"], "true");
    // ... and the tool is installed when it is used.
    let install = step(&yaml, "installers", "Azure Artifact Signing tool");
    assert!(yaml_str(&install["if"]).contains("steps.signing.outputs.artifact-signing == 'true'"));
    assert!(
        yaml_str(&install["run"]).contains("cargo install --locked artifact-signing-cli --version")
    );

    let half = signing("Windows", &AZURE[..4]);
    assert!(!half.ok, "half the Azure settings");
    let both: Vec<_> = AZURE
        .iter()
        .copied()
        .chain([("WINDOWS_CERTIFICATE", "MIIK")])
        .collect();
    assert!(!signing("Windows", &both).ok, "two ways to sign");
    let cert = signing("Windows", &[("WINDOWS_CERTIFICATE", "MIIK")]);
    assert!(
        cert.ok && !cert.stdout.contains("not signed"),
        "{}",
        cert.stdout
    );

    // The certificate step: certutil decodes what `certutil -encode` wrote
    // (FromBase64String rejects its BEGIN/END lines), and an empty
    // password is no password. PowerShell is not on this machine: checked
    // as text.
    let pwsh = yaml_str(&step(&yaml, "installers", "Windows certificate")["run"]);
    assert!(pwsh.contains("certutil -decode"));
    assert!(!pwsh.contains("FromBase64String"));
    assert!(pwsh.contains("if ($env:WINDOWS_CERTIFICATE_PASSWORD)"));
}

#[test]
fn the_updater_key_needs_its_public_key_and_points_the_app_at_the_release() {
    let key = (
        "TAURI_SIGNING_PRIVATE_KEY",
        "untrusted comment: rsign\nRWRT",
    );
    let ran = signing("Linux", &[key]);
    assert!(
        !ran.ok,
        "a key without TAURI_UPDATER_PUBKEY: {}",
        ran.stdout
    );

    let ran = signing("Linux", &[key, ("TAURI_UPDATER_PUBKEY", "dW50cnVzdGVk")]);
    assert!(ran.ok, "{}", ran.stdout);
    assert_eq!(ran.env["TAURI_SIGNING_PRIVATE_KEY"], key.1);
    let config = ran.config();
    assert_eq!(config["plugins"]["updater"]["pubkey"], "dW50cnVzdGVk");
    assert_eq!(
        config["plugins"]["updater"]["endpoints"],
        serde_json::json!([
            "https://github.com/mailferry-org/mailferry/releases/latest/download/latest.json"
        ]),
        "the app checks what updater-manifest publishes"
    );
    assert!(config["bundle"]["createUpdaterArtifacts"].is_null());
}

/// A copy of the three files the version check reads, at `version`.
fn versioned_tree(version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = src_tauri().join("..");
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let ui: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("ui/package.json")).unwrap())
            .unwrap();
    let current = ui["version"].as_str().unwrap().to_owned();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        cargo.replacen(
            &format!("version = \"{current}\""),
            &format!("version = \"{version}\""),
            1,
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("src-tauri")).unwrap();
    std::fs::create_dir_all(dir.path().join("ui")).unwrap();
    std::fs::copy(
        src_tauri().join("tauri.conf.json"),
        dir.path().join("src-tauri/tauri.conf.json"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ui/package.json"),
        serde_json::json!({"name": "ui", "version": version}).to_string(),
    )
    .unwrap();
    dir
}

#[test]
fn release_workflow_checks_the_tag_against_the_version() {
    let (_, yaml) = workflow();
    let script = yaml_str(&step(&yaml, "draft", "Version")["run"]).to_owned();
    let root = src_tauri().join("..");
    let version: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("ui/package.json")).unwrap())
            .unwrap();
    let tag = format!("v{}", version["version"].as_str().unwrap());

    // The repository as it is: its own version's tag passes.
    let ran = dry_run(
        &script,
        &root,
        "Linux",
        &[("TAG", &tag), ("HAS_UPDATER_KEY", "false")],
        None,
    );
    assert!(ran.ok, "{tag}: {}", ran.stdout);
    assert_eq!(ran.outputs["prerelease"], "false");
    assert_eq!(ran.outputs["windows-bundles"], "nsis,msi");
    assert_eq!(ran.outputs["updater"], "false");

    let ran = dry_run(
        &script,
        &root,
        "Linux",
        &[("TAG", "v99.0.0"), ("HAS_UPDATER_KEY", "true")],
        None,
    );
    assert!(!ran.ok, "a tag that is not the version");
    assert!(
        ran.stdout.contains("::error::the tag v99.0.0"),
        "{}",
        ran.stdout
    );

    // Pre-releases: an .msi only for a numeric pre-release part.
    let tree = versioned_tree("1.2.0-3");
    let ran = dry_run(
        &script,
        tree.path(),
        "Linux",
        &[("TAG", "v1.2.0-3"), ("HAS_UPDATER_KEY", "true")],
        None,
    );
    assert!(ran.ok, "{}", ran.stdout);
    assert_eq!(ran.outputs["prerelease"], "true");
    assert_eq!(ran.outputs["windows-bundles"], "nsis,msi");
    assert_eq!(ran.outputs["updater"], "true");
    let tree = versioned_tree("1.2.0-beta.1");
    let ran = dry_run(
        &script,
        tree.path(),
        "Linux",
        &[("TAG", "v1.2.0-beta.1"), ("HAS_UPDATER_KEY", "false")],
        None,
    );
    assert!(ran.ok, "{}", ran.stdout);
    assert_eq!(ran.outputs["prerelease"], "true");
    assert_eq!(
        ran.outputs["windows-bundles"], "nsis",
        "no .msi, with a reason"
    );
    assert!(ran.stdout.contains("::notice::no .msi"), "{}", ran.stdout);
    // A version file that disagrees stops it even when the crate agrees.
    std::fs::write(
        tree.path().join("ui/package.json"),
        r#"{"version": "1.1.0"}"#,
    )
    .unwrap();
    let ran = dry_run(
        &script,
        tree.path(),
        "Linux",
        &[("TAG", "v1.2.0-beta.1"), ("HAS_UPDATER_KEY", "false")],
        None,
    );
    assert!(
        !ran.ok && ran.stdout.contains("ui/package.json"),
        "{}",
        ran.stdout
    );

    // The draft is a pre-release exactly when the tag is one.
    let draft = step_by_id(&yaml, "draft", "draft");
    assert_eq!(
        draft["env"]["PRERELEASE"],
        "${{ steps.version.outputs.prerelease }}"
    );
    assert!(yaml_str(&draft["with"]["script"])
        .contains("prerelease: process.env.PRERELEASE === 'true'"));
}

fn step_by_uses<'a>(
    yaml: &'a serde_norway::Value,
    job: &str,
    action: &str,
) -> &'a serde_norway::Value {
    yaml["jobs"][job]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with(&format!("{action}@")))
        })
        .unwrap()
}

fn step_by_id<'a>(yaml: &'a serde_norway::Value, job: &str, id: &str) -> &'a serde_norway::Value {
    yaml["jobs"][job]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

/// A stand-in `gh` serving a draft release's assets from `dir` and
/// recording what is uploaded.
fn fake_gh(dir: &Path, assets: &[&str]) {
    let list: Vec<Value> = assets
        .iter()
        .enumerate()
        .map(|(i, name)| serde_json::json!({"id": i + 1, "name": name}))
        .collect();
    std::fs::write(dir.join("assets.json"), Value::from(list).to_string()).unwrap();
    for (i, name) in assets.iter().enumerate() {
        std::fs::write(
            dir.join(format!("asset-{}", i + 1)),
            format!("signature of {name}"),
        )
        .unwrap();
    }
    let gh = dir.join("gh");
    std::fs::write(
        &gh,
        format!(
            r#"#!/bin/bash
dir='{}'
if [ "$1" = api ]; then
  shift
  if [ "$1" = -H ]; then shift 2; fi
  case "$1" in
    repos/mailferry-org/mailferry/releases/42/assets\?*) cat "$dir/assets.json" ;;
    repos/mailferry-org/mailferry/releases/assets/*) cat "$dir/asset-${{1##*/}}" ;;
    *) echo "unexpected gh api $1" >&2; exit 1 ;;
  esac
elif [ "$1 $2" = "release upload" ]; then
  echo "$@" > "$dir/upload-args"
  cp "$4" "$dir/uploaded.json"
else
  echo "unexpected gh $*" >&2; exit 1
fi
"#,
            dir.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const RELEASE_ASSETS: [&str; 12] = [
    "MailFerry_universal.app.tar.gz",
    "MailFerry_universal.app.tar.gz.sig",
    "MailFerry_0.1.0_x64-setup.exe",
    "MailFerry_0.1.0_x64-setup.exe.sig",
    "MailFerry_0.1.0_x64_en-US.msi",
    "MailFerry_0.1.0_x64_en-US.msi.sig",
    "MailFerry_0.1.0_amd64.AppImage",
    "MailFerry_0.1.0_amd64.AppImage.sig",
    "MailFerry_0.1.0_amd64.deb.sig",
    "MailFerry-0.1.0-1.x86_64.rpm.sig",
    "MailFerry_0.1.0_universal.dmg",
    "MailFerry_0.1.0_amd64.deb",
];

fn manifest_step(assets: &[&str]) -> (Ran, tempfile::TempDir) {
    let (_, yaml) = workflow();
    let script = yaml_str(&step(&yaml, "updater-manifest", "latest.json")["run"]).to_owned();
    let fake = tempfile::tempdir().unwrap();
    fake_gh(fake.path(), assets);
    let ran = dry_run(
        &script,
        fake.path(),
        "Linux",
        &[("GH_TOKEN", "t"), ("RELEASE_ID", "42"), ("TAG", "v0.1.0")],
        Some(fake.path()),
    );
    (ran, fake)
}

#[test]
fn latest_json_holds_every_platform_with_tagged_links_and_prefers_nsis() {
    let (ran, fake) = manifest_step(&RELEASE_ASSETS);
    assert!(ran.ok, "{}", ran.stdout);
    let args = std::fs::read_to_string(fake.path().join("upload-args")).unwrap();
    assert!(
        args.starts_with("release upload v0.1.0 ") && args.contains("--clobber"),
        "{args}"
    );
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(fake.path().join("uploaded.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["version"], "0.1.0");
    assert!(manifest["pub_date"]
        .as_str()
        .is_some_and(|d| d.ends_with('Z')));
    let base = "https://github.com/mailferry-org/mailferry/releases/download/v0.1.0/";
    let platforms = &manifest["platforms"];
    let expect = |key: &str, file: &str| {
        assert_eq!(platforms[key]["url"], format!("{base}{file}"), "{key}");
        assert_eq!(
            platforms[key]["signature"],
            format!("signature of {file}.sig"),
            "{key}"
        );
    };
    expect("darwin-aarch64", "MailFerry_universal.app.tar.gz");
    expect("darwin-x86_64", "MailFerry_universal.app.tar.gz");
    expect("windows-x86_64", "MailFerry_0.1.0_x64-setup.exe");
    expect("windows-x86_64-nsis", "MailFerry_0.1.0_x64-setup.exe");
    expect("windows-x86_64-msi", "MailFerry_0.1.0_x64_en-US.msi");
    expect("linux-x86_64", "MailFerry_0.1.0_amd64.AppImage");
    expect("linux-x86_64-deb", "MailFerry_0.1.0_amd64.deb");
    expect("linux-x86_64-rpm", "MailFerry-0.1.0-1.x86_64.rpm");
}

#[test]
fn latest_json_is_not_written_with_a_platform_missing() {
    let without_linux: Vec<&str> = RELEASE_ASSETS
        .iter()
        .copied()
        .filter(|a| !a.ends_with(".AppImage.sig"))
        .collect();
    let (ran, fake) = manifest_step(&without_linux);
    assert!(!ran.ok, "a platform without updates must not ship silently");
    assert!(ran.stdout.contains("linux-x86_64"), "{}", ran.stdout);
    assert!(!fake.path().join("uploaded.json").exists());
}

#[test]
fn msi_upgrades_replace_the_old_version_and_the_licence_is_the_short_notice() {
    let config = config();
    let wix = &config["bundle"]["windows"]["wix"];
    assert_eq!(
        wix["upgradeCode"], "63dc2793-f7f1-5c78-882a-53765f95c661",
        "pinned: the code Tauri derives from the product name, kept if the name changes"
    );
    let licence = std::fs::read_to_string(
        src_tauri().join(config["bundle"]["licenseFile"].as_str().unwrap()),
    )
    .unwrap();
    assert!(licence.contains("Licensed under the Apache License, Version 2.0"));
    assert!(
        licence.lines().count() < 30,
        "a notice, not the licence's full text"
    );
}

/// The browser sign-in registrations the engine compiles in are exactly
/// the ones the release build is given, each from the repository variable
/// of its own name (public values: variables, never secrets).
#[test]
fn release_builds_compile_in_every_sign_in_registration_the_engine_reads() {
    let code = std::fs::read_to_string(src_tauri().join("../src/auth/registration.rs")).unwrap();
    let read: Vec<&str> = code
        .split("option_env!(\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(read.len(), 4, "{read:?}");
    let (_, yaml) = workflow();
    let build = step_by_uses(&yaml, "installers", "tauri-apps/tauri-action");
    let env = build["env"].as_mapping().unwrap();
    for name in &read {
        assert_eq!(
            env.get(*name).and_then(|v| v.as_str()),
            Some(format!("${{{{ vars.{name} }}}}").as_str()),
            "{name} is not passed to the release build"
        );
    }
    let given: Vec<&str> = env
        .keys()
        .filter_map(|k| k.as_str())
        .filter(|k| k.starts_with("MAILFERRY_"))
        .collect();
    assert_eq!(given.len(), read.len(), "{given:?}");
}

/// A stand-in `docker` that records its calls (one per line) in
/// `dir/calls`, the password it was given on standard input in
/// `dir/password`, and answers `run … --version` with `said`.
fn fake_docker(dir: &Path, said: &str) {
    let docker = dir.join("docker");
    std::fs::write(
        &docker,
        format!(
            r#"#!/bin/bash
dir='{}'
echo "$*" >> "$dir/calls"
case "$1" in
  run) echo '{said}' ;;
  login) cat > "$dir/password" ;;
  inspect) echo "ghcr.io/mailferry-org/mailferry@sha256:0123abcd" ;;
esac
"#,
            dir.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The `image` job's script run with a stand-in docker whose image says
/// `said` to `--version`: what it did, and the calls docker saw.
fn image_step(said: &str) -> (Ran, String, tempfile::TempDir) {
    let (_, yaml) = workflow();
    let script = yaml_str(&step(&yaml, "image", "Build, check and push")["run"]).to_owned();
    let fake = tempfile::tempdir().unwrap();
    fake_docker(fake.path(), said);
    let summary = fake.path().join("summary");
    let ran = dry_run(
        &script,
        &src_tauri().join(".."),
        "Linux",
        &[
            ("TAG", "v0.1.0"),
            ("REGISTRY_TOKEN", "ghs_secret-token"),
            ("GITHUB_REPOSITORY", "MailFerry-Org/MailFerry"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_SHA", "0123456789abcdef"),
            ("GITHUB_ACTOR", "release-bot"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
        Some(fake.path()),
    );
    let calls = std::fs::read_to_string(fake.path().join("calls")).unwrap_or_default();
    (ran, calls, fake)
}

/// Issue 18: the release publishes the command line's image for batch
/// engines: built from deploy/Containerfile after the version check,
/// started once to check it says the tag's version, pushed under that
/// version only (never `latest`) to the repository's own registry, the
/// token given on standard input, never as an argument.
#[test]
fn release_workflow_publishes_the_command_line_image_under_its_version() {
    let (_, yaml) = workflow();
    let job = &yaml["jobs"]["image"];
    assert_eq!(job["needs"], "draft", "after the version check");
    assert_eq!(job["permissions"]["packages"], "write");
    assert_eq!(job["permissions"]["contents"], "read");

    let (ran, calls, fake) = image_step("mailferry 0.1.0");
    assert!(ran.ok, "{}", ran.stdout);
    let image = "ghcr.io/mailferry-org/mailferry:0.1.0";
    let lines: Vec<&str> = calls.lines().collect();
    assert!(
        lines[0].starts_with(
            "build --file deploy/Containerfile --tag ghcr.io/mailferry-org/mailferry:0.1.0 "
        ) && lines[0].contains(
            "--label org.opencontainers.image.source=https://github.com/MailFerry-Org/MailFerry"
        ) && lines[0].contains("--label org.opencontainers.image.licenses=Apache-2.0"),
        "{calls}"
    );
    assert_eq!(lines[1], format!("run --rm {image} --version"));
    assert_eq!(
        lines[2],
        "login ghcr.io --username release-bot --password-stdin"
    );
    assert_eq!(lines[3], format!("push {image}"));
    assert_eq!(lines.iter().filter(|l| l.starts_with("push")).count(), 1);
    assert!(!calls.contains("latest") && !calls.contains("ghs_secret-token"));
    assert_eq!(
        std::fs::read_to_string(fake.path().join("password")).unwrap(),
        "ghs_secret-token"
    );
    let summary = std::fs::read_to_string(fake.path().join("summary")).unwrap();
    assert!(summary.contains("@sha256:0123abcd"), "{summary}");

    let (ran, calls, _fake) = image_step("mailferry 0.0.9");
    assert!(!ran.ok, "an image with another version must not be pushed");
    assert!(ran.stdout.contains("not version 0.1.0"), "{}", ran.stdout);
    assert!(
        !calls.contains("push") && !calls.contains("login"),
        "{calls}"
    );
}
