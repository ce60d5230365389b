//! `airlock keygen`, `build --sign` and `verify` as a CI job runs them: what verify accepts
//! is what the filter's VM accepts (the same envelope code), so these check the command
//! line, the key files and the exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn airlock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .env("AIRLOCK_HASH_KEY", "sign-test-key-0123456789abcdef")
        .output()
        .expect("airlock runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("airlock-sign-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn default_policy() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../policies/default")
        .display()
        .to_string()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn keygen_build_sign_and_verify() {
    let dir = scratch("roundtrip");
    let prefix = dir.join("ci");
    let out = airlock(&["keygen", "--out", s(&prefix)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let private = std::fs::read_to_string(dir.join("ci.key")).unwrap();
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(std::fs::read_to_string(dir.join("ci.pub"))
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("ci.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Never overwrites a key.
    let again = airlock(&["keygen", "--out", s(&prefix)]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(dir.join("ci.key")).unwrap(),
        private
    );

    let built = airlock(&["build", &default_policy(), "--sign", s(&dir.join("ci.key"))]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    let envelope: serde_json::Value = serde_json::from_slice(&built.stdout).unwrap();
    assert_eq!(envelope["airlock_signed"], 1);
    let inner: serde_json::Value =
        serde_json::from_str(envelope["config"].as_str().unwrap()).unwrap();
    assert_eq!(inner["policy"]["metadata"]["name"], "airlock-default");
    // The private key never appears in what build prints.
    let body: String = private
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!text(&built.stdout).contains(&body) && !text(&built.stderr).contains(&body));
    let signed = dir.join("signed.json");
    std::fs::write(&signed, &built.stdout).unwrap();

    let ok = airlock(&["verify", s(&signed), "--key", s(&dir.join("ci.pub"))]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stderr).contains("signed by key ed25519:"));
    assert!(text(&ok.stderr).contains("airlock-default@"));

    // Another key, a changed configuration, an unsigned one: exit 1, saying why.
    assert!(airlock(&["keygen", "--out", s(&dir.join("other"))])
        .status
        .success());
    let other = airlock(&["verify", s(&signed), "--key", s(&dir.join("other.pub"))]);
    assert_eq!(other.status.code(), Some(1));
    assert!(text(&other.stderr).contains("unknown_key"));
    let either = airlock(&[
        "verify",
        s(&signed),
        "--key",
        s(&dir.join("other.pub")),
        "--key",
        s(&dir.join("ci.pub")),
    ]);
    assert!(either.status.success(), "{}", text(&either.stderr));
    let tampered = dir.join("tampered.json");
    std::fs::write(
        &tampered,
        text(&built.stdout).replace("max_body_bytes\\\":1048576", "max_body_bytes\\\":1048577"),
    )
    .unwrap();
    assert_ne!(
        std::fs::read(&tampered).unwrap(),
        built.stdout,
        "the tamper must change something"
    );
    let changed = airlock(&["verify", s(&tampered), "--key", s(&dir.join("ci.pub"))]);
    assert_eq!(changed.status.code(), Some(1));
    assert!(text(&changed.stderr).contains("bad_signature"));
    let plain = dir.join("plain.json");
    let unsigned = airlock(&["build", &default_policy()]);
    std::fs::write(&plain, &unsigned.stdout).unwrap();
    let rejected = airlock(&["verify", s(&plain), "--key", s(&dir.join("ci.pub"))]);
    assert_eq!(rejected.status.code(), Some(1));
    assert!(text(&rejected.stderr).contains("unsigned"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_key_files_are_errors_naming_the_file() {
    let dir = scratch("bad-keys");
    let junk = dir.join("junk.key");
    std::fs::write(&junk, "not a key").unwrap();
    let out = airlock(&["build", &default_policy(), "--sign", s(&junk)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("junk.key") && text(&out.stderr).contains("PKCS#8"));
    assert!(
        out.stdout.is_empty(),
        "nothing unsigned is printed when signing fails"
    );
    let out = airlock(&["verify", s(&junk), "--key", s(&junk)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("junk.key"));
    let _ = std::fs::remove_dir_all(&dir);
}
