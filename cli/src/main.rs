//! `airlock`: check policies, scan request bodies, build the filter configuration.

mod build;
mod check;
mod diff;
mod error;
mod index;
mod index_records;
mod index_walk;
mod load;
mod package;
mod sarif;
mod scan;
mod schema_json;
mod sign;
#[cfg(feature = "wasm")]
mod wasm;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "airlock",
    version,
    about = "Data-loss prevention for AI traffic: policy tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a policy file or directory and run its test cases; exit non-zero on any failure.
    Check {
        /// Policy file (YAML or JSON) or directory (policy.yaml + detectors/ + tests/).
        path: PathBuf,
        /// Run cases through the native engine even when the compiled .wasm is available.
        #[arg(long)]
        native: bool,
        /// The compiled filter to run cases through (default: $AIRLOCK_WASM, else the build under $CARGO_TARGET_DIR or target/).
        #[arg(long, value_name = "FILE")]
        wasm: Option<PathBuf>,
        /// Also fail when a detector lacks a `match` or an `ignore` example.
        #[arg(long)]
        require_examples: bool,
    },
    /// Inspect request bodies and print one JSON line per input; never prints a matched value.
    Scan {
        /// Policy file or directory (default: the embedded default policy).
        #[arg(long, value_name = "PATH")]
        policy: Option<PathBuf>,
        /// Destination host the request is bound for.
        #[arg(long, default_value = "api.openai.com")]
        host: String,
        /// Request path.
        #[arg(long, default_value = "/v1/chat/completions")]
        path: String,
        /// Content-Type of the bodies (default: detected).
        #[arg(long, value_name = "TYPE")]
        content_type: Option<String>,
        /// Files or directories of bodies; `-` (or nothing) reads standard input.
        inputs: Vec<PathBuf>,
        /// Output: JSON lines (one per input) or one SARIF 2.1.0 log.
        #[arg(long, value_enum, default_value_t = scan::Format::Jsonl)]
        format: scan::Format,
    },
    /// Print the JSON plugin configuration the filter loads for a policy.
    Build {
        /// Policy file or directory.
        path: PathBuf,
        /// Keep request headers from the upstream until the body is judged. Needs Envoy >= 1.35 with
        /// `allow_on_headers_stop_iteration: true` in the Wasm plugin config; without it the request stalls.
        #[arg(long)]
        hold_headers: bool,
        /// Sign the configuration with this Ed25519 private key (PKCS#8 PEM, from `airlock keygen`).
        #[arg(long, value_name = "KEYFILE")]
        sign: Option<PathBuf>,
        /// Write the binary configuration envelope (JSON plus the protected indexes raw, for a
        /// `google.protobuf.BytesValue` plugin configuration) instead of JSON.
        #[arg(long)]
        envelope: bool,
    },
    /// Run two policies over a corpus of sample requests and print what changes (Markdown, or JSON Lines).
    Diff {
        /// The policy before the change (file or directory).
        old: PathBuf,
        /// The policy after the change.
        new: PathBuf,
        /// Sample request bodies, each at DIR/<host>/<path...>/<file> (the request's URL).
        #[arg(long, value_name = "DIR")]
        corpus: PathBuf,
        /// Print JSON Lines instead of a Markdown summary.
        #[arg(long)]
        json: bool,
    },
    /// Create an Ed25519 key pair for signing configurations: PREFIX.key (private) and PREFIX.pub.
    Keygen {
        /// Path prefix of the two key files.
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
    },
    /// Check that a built configuration is signed by a trusted key and loads; exit 1 if not.
    Verify {
        /// The configuration `airlock build --sign` wrote.
        config: PathBuf,
        /// A trusted public key file (PEM from `airlock keygen`); repeat for several.
        #[arg(long = "key", value_name = "PUBFILE", required = true)]
        keys: Vec<PathBuf>,
    },
    /// Package the release .wasm as an OCI image (Wasm image spec, oci variant) in an OCI image
    /// layout; print the image's digest (sha256:...), the one to pin with `@sha256:`.
    Package {
        /// Directory of the OCI image layout (created; an existing layout there is replaced).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The module (default: $AIRLOCK_WASM, else the release build under $CARGO_TARGET_DIR or target/).
        #[arg(long, value_name = "FILE")]
        wasm: Option<PathBuf>,
        /// Tag recorded in the layout's index.json.
        #[arg(long, default_value = "latest")]
        tag: String,
    },
    /// Build a protected documents or records index for `documents:` and `records:` detectors.
    Index {
        #[command(subcommand)]
        what: index::IndexCommand,
    },
    /// Print the JSON Schema of a policy file (generated from the types the filter parses).
    Schema {
        /// Which kind of policy file.
        #[arg(value_enum, default_value = "policy")]
        document: schema_json::Document,
        /// Write all three schemas (policy, detectors, tests) into this directory instead.
        #[arg(long, value_name = "DIR")]
        write: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check {
            path,
            native,
            wasm,
            require_examples,
        } => check::run(
            &path,
            check::Options {
                native,
                wasm,
                require_examples,
            },
        ),
        Command::Scan {
            policy,
            host,
            path,
            content_type,
            inputs,
            format,
        } => scan::run(
            policy.as_deref(),
            &host,
            &path,
            content_type.as_deref(),
            &inputs,
            format,
        ),
        Command::Build {
            path,
            hold_headers,
            sign,
            envelope,
        } => build::run(&path, hold_headers, sign.as_deref(), envelope),
        Command::Diff {
            old,
            new,
            corpus,
            json,
        } => diff::run(&old, &new, &corpus, json),
        Command::Keygen { out } => sign::keygen(&out),
        Command::Verify { config, keys } => sign::verify(&config, &keys),
        Command::Package { out, wasm, tag } => package::run(&package::Options { out, wasm, tag }),
        Command::Index { what } => index::run(what).map_err(error::CliError::Index),
        Command::Schema { document, write } => schema_json::run(document, write.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("airlock: {message}");
            ExitCode::from(2)
        }
    }
}
