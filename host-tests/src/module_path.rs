//! Where the compiled filter is, for the tests that load it.

use std::path::{Path, PathBuf};

/// Where `cargo build --release --target wasm32-wasip1 -p airlock-filter`
/// puts the module, below a target directory.
pub const FILTER_WASM: &str = "wasm32-wasip1/release/airlock_filter.wasm";

/// The workspace this crate belongs to.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The compiled filter: `$AIRLOCK_WASM`, else `$CARGO_TARGET_DIR`'s build if
/// there is one, else the workspace's `target/`. An error that says how to
/// build it if there is no file at that path.
pub fn filter_wasm() -> Result<PathBuf, String> {
    let path = match (
        std::env::var_os("AIRLOCK_WASM"),
        std::env::var_os("CARGO_TARGET_DIR"),
    ) {
        (Some(p), _) => PathBuf::from(p),
        (None, Some(dir)) if Path::new(&dir).join(FILTER_WASM).is_file() => {
            Path::new(&dir).join(FILTER_WASM)
        }
        _ => workspace_root().join("target").join(FILTER_WASM),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "the filter is not built: {} does not exist. Run \
             `cargo build --release --target wasm32-wasip1 -p airlock-filter` in the workspace root \
             (or set AIRLOCK_WASM to the .wasm to test).",
            path.display()
        ))
    }
}
