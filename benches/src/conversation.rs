//! Seeded conversations as clients re-send them: every turn's request carries the whole
//! history so far plus the new turn, in the shapes of OpenAI chat completions, OpenAI
//! Responses and Anthropic messages.
//!
//! An agent session is a coding agent's loop: a system prompt and tool definitions, then per
//! turn a tool call (its arguments a JSON document), the tool's result (code, logs, JSON or
//! prose, a few KiB), the assistant's reply and the user's next message. A chat session is
//! short turns of prose. Findings appear at the corpus's realistic density, plus a pasted
//! credential now and then; a session may cut a credential across two user messages of
//! consecutive turns (the joined detectors' business).

use crate::corpus::{self, Class, Rng};
use serde_json::{json, Value};

/// The request shape of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `POST /v1/chat/completions`: `messages`, tool calls with string `arguments`.
    OpenAiChat,
    /// `POST /v1/responses`: `instructions` and `input` items (function calls and outputs).
    OpenAiResponses,
    /// `POST /v1/messages`: `system`, content blocks, `tool_use` and `tool_result`.
    Anthropic,
}

impl Shape {
    pub const ALL: [Shape; 3] = [Shape::OpenAiChat, Shape::OpenAiResponses, Shape::Anthropic];

    pub fn name(self) -> &'static str {
        match self {
            Shape::OpenAiChat => "openai-chat",
            Shape::OpenAiResponses => "openai-responses",
            Shape::Anthropic => "anthropic",
        }
    }

    /// The inspection request of a `body` of this shape from `caller`.
    pub fn request<'a>(
        self,
        body: &'a [u8],
        caller: Option<&'a [u8]>,
    ) -> airlock_filter::Request<'a> {
        let (host, path) = self.host_path();
        airlock_filter::Request {
            host,
            path,
            content_type: Some("application/json"),
            content_encoding: None,
            body,
            caller,
        }
    }

    /// Where a client sends it.
    pub fn host_path(self) -> (&'static str, &'static str) {
        match self {
            Shape::OpenAiChat => ("api.openai.com", "/v1/chat/completions"),
            Shape::OpenAiResponses => ("api.openai.com", "/v1/responses"),
            Shape::Anthropic => ("api.anthropic.com", "/v1/messages"),
        }
    }
}

/// How a session grows.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub shape: Shape,
    pub seed: u64,
    pub turns: usize,
    /// About how many new bytes each turn adds (tool results take most of them).
    pub turn_bytes: usize,
    /// Short chat turns: no system prompt of note, no tools.
    pub chat: bool,
    /// Cut a fresh credential across the user messages of this turn and the next.
    pub split_at: Option<usize>,
}

impl Plan {
    /// A coding agent's session: 50 turns growing to about 400 KB.
    pub fn agent(shape: Shape, seed: u64) -> Plan {
        Plan {
            shape,
            seed,
            turns: 50,
            turn_bytes: 8 << 10,
            chat: false,
            split_at: None,
        }
    }

    /// A chat of 50 short turns.
    pub fn chat(shape: Shape, seed: u64) -> Plan {
        Plan {
            shape,
            seed,
            turns: 50,
            turn_bytes: 400,
            chat: true,
            split_at: None,
        }
    }
}

/// One turn of a session: the request body a client sends, and its new bytes alone (the same
/// request with only the system prompt, the tools and this turn's items).
#[derive(Debug, Clone)]
pub struct Turn {
    pub body: Vec<u8>,
    pub fresh: Vec<u8>,
}

/// A fresh AWS-style access key id (random, not any real key's).
pub fn fake_aws_key(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut key = String::from("AKIA");
    for _ in 0..16 {
        key.push(char::from(ALPHABET[rng.below(ALPHABET.len())]));
    }
    key
}

/// One conversation item before it takes a provider's shape.
#[derive(Debug, Clone)]
enum Item {
    User(String),
    Assistant(String),
    /// A tool call: id, tool name, arguments.
    Call(String, &'static str, Value),
    /// A tool's output for the call with this id.
    Output(String, String),
}

const TOOLS: [(&str, &str); 4] = [
    ("read_file", "Read a file of the repository"),
    ("run_command", "Run a shell command in the sandbox"),
    ("search", "Search the repository for a pattern"),
    ("query_db", "Run a read-only SQL query"),
];

const SYSTEM: &str = "You are a coding agent working in the user's repository. Use the tools to \
read files, run commands and search the code. Keep changes small, explain what you changed, and \
never print credentials or personal data you come across. Follow the repository's conventions.";

/// Every request of the session described by `plan`, in order.
pub fn session(plan: &Plan) -> Vec<Turn> {
    let mut rng = Rng::new(plan.seed ^ 0xC0FFEE);
    let mut history: Vec<Item> = Vec::new();
    let mut pending_tail: Option<String> = None;
    let mut turns = Vec::with_capacity(plan.turns);
    for turn in 0..plan.turns {
        let mut new: Vec<Item> = Vec::new();
        // The rest of a cut credential comes first: the user's next message, right after.
        if let Some(mut tail) = pending_tail.take() {
            tail.push_str(&corpus::text(Class::Prose, &mut rng, 200));
            new.push(Item::User(tail));
        }
        if !plan.chat && turn > 0 {
            let id = format!("call_{:012x}", rng.next_u64() & 0xffff_ffff_ffff);
            let (tool, _) = *rng.pick(&TOOLS);
            let arguments = json!({
                "path": format!("src/module_{}/{}.rs", rng.below(40), rng.below(400)),
                "pattern": corpus::text(Class::Prose, &mut rng, 60),
                "limit": rng.range(10, 500),
            });
            let class = *rng.pick(&[
                Class::Code,
                Class::Code,
                Class::Logs,
                Class::Json,
                Class::Prose,
            ]);
            let mut output = corpus::text(class, &mut rng, plan.turn_bytes.saturating_sub(900));
            if rng.one_in(8) {
                output.push_str(&format!(
                    "\naws_access_key_id = {}\n",
                    fake_aws_key(&mut rng)
                ));
            }
            new.push(Item::Call(id.clone(), tool, arguments));
            new.push(Item::Output(id, output));
            new.push(Item::Assistant(corpus::text(Class::Prose, &mut rng, 500)));
        } else if turn > 0 {
            new.push(Item::Assistant(corpus::text(
                Class::Prose,
                &mut rng,
                plan.turn_bytes / 2,
            )));
        }
        let budget = if plan.chat { plan.turn_bytes / 2 } else { 300 };
        let mut user = corpus::text(Class::Prose, &mut rng, budget);
        if plan.split_at == Some(turn) {
            let key = fake_aws_key(&mut rng);
            let (head, tail) = key.split_at(4 + rng.range(2, 12));
            user.push_str(&format!(" The deploy key begins {head}"));
            pending_tail = Some(format!("{tail} and that is all of it. "));
        }
        if user.is_empty() {
            user.push_str("Go on.");
        }
        new.push(Item::User(user));
        let fresh = render(plan, &new);
        history.extend(new);
        turns.push(Turn {
            body: render(plan, &history),
            fresh,
        });
    }
    turns
}

fn render(plan: &Plan, items: &[Item]) -> Vec<u8> {
    let tools: Vec<Value> = if plan.chat { Vec::new() } else { TOOLS.to_vec() }
        .iter()
        .map(|(name, description)| (name, description, json!({"type": "object", "properties": {"path": {"type": "string"}, "pattern": {"type": "string"}, "limit": {"type": "integer"}}})))
        .map(|(name, description, schema)| match plan.shape {
            Shape::OpenAiChat => json!({"type": "function", "function": {"name": name, "description": description, "parameters": schema}}),
            Shape::OpenAiResponses => json!({"type": "function", "name": name, "description": description, "parameters": schema}),
            Shape::Anthropic => json!({"name": name, "description": description, "input_schema": schema}),
        })
        .collect();
    let mut body = match plan.shape {
        Shape::OpenAiChat => {
            let mut messages = vec![json!({"role": "system", "content": SYSTEM})];
            messages.extend(items.iter().map(|item| match item {
                Item::User(text) => json!({"role": "user", "content": text}),
                Item::Assistant(text) => json!({"role": "assistant", "content": text}),
                Item::Call(id, name, arguments) => json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": id, "type": "function", "function": {"name": name, "arguments": arguments.to_string()}}
                ]}),
                Item::Output(id, text) => json!({"role": "tool", "tool_call_id": id, "content": text}),
            }));
            json!({"model": "gpt-4.1", "stream": true, "messages": messages})
        }
        Shape::OpenAiResponses => {
            let input: Vec<Value> = items.iter().map(|item| match item {
                Item::User(text) => json!({"role": "user", "content": [{"type": "input_text", "text": text}]}),
                Item::Assistant(text) => json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}),
                Item::Call(id, name, arguments) => json!({"type": "function_call", "call_id": id, "name": name, "arguments": arguments.to_string()}),
                Item::Output(id, text) => json!({"type": "function_call_output", "call_id": id, "output": text}),
            }).collect();
            json!({"model": "gpt-4.1", "instructions": SYSTEM, "input": input})
        }
        Shape::Anthropic => {
            // Tool calls end the assistant's turn; their results open the user's.
            let messages: Vec<Value> = items.iter().map(|item| match item {
                Item::User(text) => json!({"role": "user", "content": [{"type": "text", "text": text}]}),
                Item::Assistant(text) => json!({"role": "assistant", "content": [{"type": "text", "text": text}]}),
                Item::Call(id, name, arguments) => json!({"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": name, "input": arguments}]}),
                Item::Output(id, text) => json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": text}]}),
            }).collect();
            json!({"model": "claude-sonnet-4-5", "max_tokens": 4096, "system": SYSTEM, "messages": messages})
        }
    };
    if !tools.is_empty() {
        if let Some(object) = body.as_object_mut() {
            object.insert("tools".into(), Value::Array(tools));
        }
    }
    body.to_string().into_bytes()
}
