//! `envoy-load-body CLASS SIZE [SEED]`: writes `corpus::chat_body(CLASS, SIZE, SEED)` to stdout.
//! `envoy-load-body session agent|chat SHAPE SEED DIR`: writes every turn's request of one
//! seeded conversation (`conversation::session`) to `DIR/turn-NN.json`, and its host and path
//! to `DIR/target` (for benches/envoy-replay.sh).
use airlock_benches::conversation::{session, Plan, Shape};
use airlock_benches::corpus;
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("session") {
        write_session(&args[1..]).unwrap_or_else(|e| panic!("{e}"));
        return;
    }
    let body = corpus::body_from_args(&args).unwrap_or_else(|e| panic!("{e}"));
    std::io::stdout().write_all(&body).expect("stdout");
}

fn write_session(args: &[String]) -> Result<(), String> {
    let [kind, shape, seed, dir] = args else {
        return Err("usage: envoy-load-body session agent|chat SHAPE SEED DIR".into());
    };
    let shape = Shape::ALL
        .into_iter()
        .find(|s| s.name() == shape)
        .ok_or_else(|| format!("unknown shape {shape:?} (openai-chat, openai-responses, anthropic)"))?;
    let seed: u64 = seed.parse().map_err(|e| format!("seed {seed:?}: {e}"))?;
    let plan = match kind.as_str() {
        "agent" => Plan::agent(shape, seed),
        "chat" => Plan::chat(shape, seed),
        other => return Err(format!("unknown session kind {other:?} (agent, chat)")),
    };
    let dir = std::path::Path::new(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (i, turn) in session(&plan).iter().enumerate() {
        let path = dir.join(format!("turn-{i:02}.json"));
        std::fs::write(&path, &turn.body).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let (host, path) = shape.host_path();
    std::fs::write(dir.join("target"), format!("{host} {path}\n")).map_err(|e| e.to_string())
}
