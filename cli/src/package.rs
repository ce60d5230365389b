//! `airlock package`: the release `.wasm` as an OCI image, in an OCI image layout on disk.
//!
//! The image follows the *oci* variant of the Wasm image specification that Istio documents
//! (github.com/solo-io/wasm, `spec/spec.md`), which Istio's and Envoy Gateway's image fetchers
//! both read: a manifest with two layers, the runtime configuration
//! (`application/vnd.module.wasm.config.v1+json`, also the manifest's config) and the module
//! itself (`application/vnd.module.wasm.content.layer.v1+wasm`). We chose it over the *compat*
//! variant (one tar+gzip layer holding `plugin.wasm`) because the module layer *is* the `.wasm`,
//! byte for byte: its digest is the sha256 of the build, anyone can check an image against a
//! build without unpacking anything, and no tar header or gzip timestamp makes two packagings of
//! the same module differ. Nothing in the manifest depends on the clock, so the same `.wasm`
//! always gives the same image digest. The trade-off: a registry must accept custom artifact
//! media types (distribution ≥ 2.7, and the hosted registries today do).
//!
//! The layout is written with `serde_json` and `sha2` alone; any OCI client (`oras cp`,
//! `skopeo copy oci:DIR ...`, the `oras` Python SDK) can push it unchanged, so the digest printed
//! here is the digest in the registry, and the one a `WasmPlugin` pins with `@sha256:`.

use crate::error::CliError;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Media types of the Wasm image specification's *oci* variant and of the OCI image spec.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.module.wasm.config.v1+json";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const TITLE: &str = "org.opencontainers.image.title";

/// What `airlock package` needs.
pub struct Options {
    /// The output directory (created; an existing layout there is replaced).
    pub out: PathBuf,
    /// The module to package; default: the release build, found as `airlock check` finds it.
    pub wasm: Option<PathBuf>,
    /// The tag recorded in the layout's index (`org.opencontainers.image.ref.name`).
    pub tag: String,
}

/// One content-addressed blob: its bytes and descriptor fields.
struct Blob {
    bytes: Vec<u8>,
    digest: String,
}

impl Blob {
    fn new(bytes: Vec<u8>) -> Blob {
        let digest = format!("sha256:{}", hex(&Sha256::digest(&bytes)));
        Blob { bytes, digest }
    }

    fn descriptor(&self, media_type: &str, title: Option<&str>) -> serde_json::Value {
        let mut d =
            json!({"mediaType": media_type, "digest": self.digest, "size": self.bytes.len()});
        if let (Some(title), Some(obj)) = (title, d.as_object_mut()) {
            obj.insert("annotations".into(), json!({ TITLE: title }));
        }
        d
    }
}

pub fn run(options: &Options) -> Result<ExitCode, CliError> {
    let wasm_path = module_path(options.wasm.as_deref())?;
    let module = std::fs::read(&wasm_path).map_err(|e| package_error(&wasm_path, &e))?;
    if !module.starts_with(b"\0asm") {
        return Err(CliError::Package(format!(
            "{}: not a WebAssembly module (no \\0asm header); pass the filter built by \
             `cargo build --release --target wasm32-wasip1 -p airlock-filter`",
            wasm_path.display()
        )));
    }
    let image = Image::of(module);
    image.write_layout(&options.out, &options.tag)?;
    println!("{}", image.manifest.digest);
    eprintln!(
        "airlock: packaged {} ({} bytes, module {}) into {} as {}",
        wasm_path.display(),
        image.module.bytes.len(),
        image.module.digest,
        options.out.display(),
        options.tag
    );
    Ok(ExitCode::SUCCESS)
}

/// The module, its runtime configuration and the manifest that binds them.
struct Image {
    module: Blob,
    runtime_config: Blob,
    manifest: Blob,
}

impl Image {
    fn of(module: Vec<u8>) -> Image {
        let module = Blob::new(module);
        // The spec's runtime configuration for Envoy; Airlock registers no named root context.
        let runtime_config = Blob::new(
            json!({"type": "envoy_proxy", "abiVersions": ["proxy_abi_version_0_2_1"], "config": {}})
                .to_string()
                .into_bytes(),
        );
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": runtime_config.descriptor(WASM_CONFIG_MEDIA_TYPE, None),
            // Istio's and Envoy Gateway's fetchers want exactly two layers, one of them the module.
            "layers": [
                runtime_config.descriptor(WASM_CONFIG_MEDIA_TYPE, Some("runtime-config.json")),
                module.descriptor(WASM_LAYER_MEDIA_TYPE, Some("plugin.wasm")),
            ],
        });
        Image {
            module,
            runtime_config,
            manifest: Blob::new(manifest.to_string().into_bytes()),
        }
    }

    fn write_layout(&self, out: &Path, tag: &str) -> Result<(), CliError> {
        let blobs = out.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(|e| package_error(&blobs, &e))?;
        for blob in [&self.module, &self.runtime_config, &self.manifest] {
            let name = blob.digest.trim_start_matches("sha256:");
            write(&blobs.join(name), &blob.bytes)?;
        }
        let mut manifest = self.manifest.descriptor(MANIFEST_MEDIA_TYPE, None);
        if let Some(obj) = manifest.as_object_mut() {
            obj.insert(
                "annotations".into(),
                json!({"org.opencontainers.image.ref.name": tag}),
            );
        }
        let index =
            json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": [manifest]});
        write(
            &out.join("oci-layout"),
            json!({"imageLayoutVersion": "1.0.0"})
                .to_string()
                .as_bytes(),
        )?;
        write(&out.join("index.json"), index.to_string().as_bytes())
    }
}

fn module_path(given: Option<&Path>) -> Result<PathBuf, CliError> {
    match given {
        Some(path) if path.is_file() => Ok(path.to_path_buf()),
        Some(path) => Err(CliError::NoWasm(path.to_path_buf())),
        None => default_module(),
    }
}

#[cfg(feature = "wasm")]
fn default_module() -> Result<PathBuf, CliError> {
    airlock_host_tests::filter_wasm().map_err(CliError::Package)
}

#[cfg(not(feature = "wasm"))]
fn default_module() -> Result<PathBuf, CliError> {
    Err(CliError::Package(
        "built without the `wasm` feature: pass the module with --wasm FILE".into(),
    ))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|e| package_error(path, &e))
}

fn package_error(path: &Path, e: &std::io::Error) -> CliError {
    CliError::Package(format!("{}: {e}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_json(path: &Path) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn layout_is_content_addressed_and_reproducible() {
        let module = b"\0asm\x01\0\0\0 a module".to_vec();
        let dir = std::env::temp_dir().join(format!("airlock-package-{}", std::process::id()));
        let image = Image::of(module.clone());
        image.write_layout(&dir, "v1").unwrap();

        let index = read_json(&dir.join("index.json"));
        let manifest_digest = index["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(manifest_digest, image.manifest.digest);
        assert_eq!(
            index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
            "v1"
        );
        // every blob is stored under the sha256 of its bytes
        for entry in std::fs::read_dir(dir.join("blobs/sha256")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            assert_eq!(hex(&Sha256::digest(std::fs::read(&path).unwrap())), name);
        }
        let manifest = read_json(&dir.join("blobs/sha256").join(&manifest_digest[7..]));
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 2);
        assert_eq!(layers[1]["mediaType"], WASM_LAYER_MEDIA_TYPE);
        assert_eq!(
            layers[1]["digest"],
            format!("sha256:{}", hex(&Sha256::digest(&module)))
        );
        assert_eq!(layers[1]["size"], module.len());
        assert_eq!(manifest["config"]["mediaType"], WASM_CONFIG_MEDIA_TYPE);
        // same module, same digest; another module, another digest
        assert_eq!(
            Image::of(module.clone()).manifest.digest,
            image.manifest.digest
        );
        let mut other = module;
        other.push(0);
        assert_ne!(Image::of(other).manifest.digest, image.manifest.digest);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
