//! A deterministic corpus of chat request bodies for the benchmarks and the slow-path guard.
//!
//! Every body is an OpenAI chat-completions request whose messages carry one
//! class of text. Realistic classes have findings at a realistic density (an
//! email, a phone number or an IP address every few KiB, a pasted credential
//! rarely); adversarial classes are near-misses built to stress one part of
//! the engine. Same class, size and seed: same bytes, on every machine.

use serde_json::{json, Value};
use std::fmt::Write as _;

/// The harness's SplitMix64 (tiny, seedable, good enough for synthetic text), with the
/// helpers the corpus draws from.
#[derive(Debug, Clone)]
pub struct Rng(airlock_host_tests::state::Rng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(airlock_host_tests::state::Rng(seed ^ 0x9E37_79B9_7F4A_7C15))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn digits(&mut self, out: &mut String, n: usize) {
        for _ in 0..n {
            out.push(char::from(b'0' + self.below(10) as u8));
        }
    }

    pub fn hex(&mut self, out: &mut String, n: usize) {
        const HEX: &[u8] = b"0123456789abcdef";
        for _ in 0..n {
            out.push(char::from(HEX[self.below(16)]));
        }
    }
}

/// A class of message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// English prose about work: emails to draft, meeting notes, questions.
    Prose,
    /// Rust and Python source with config blocks, URLs, hosts.
    Code,
    /// Pasted JSON documents (API responses, records) and tool calls whose arguments are JSON.
    Json,
    /// Application and access logs: timestamps, levels, request ids, durations, some IPs and emails.
    Logs,
    /// Chinese text with some English terms, as UTF-8.
    Cjk,
    /// The same Chinese text as Python's `json.dumps` sends it: every non-ASCII character `\uXXXX`-escaped.
    CjkEscaped,
    /// Adversarial: long digit runs and grouped digits that look like cards, phones and ids but fail validators.
    DigitRuns,
    /// Adversarial: walls of base64 (random bytes, and base64 of base64 of text).
    Base64Wall,
    /// Adversarial: thousands of detector keywords with near-miss values, arming every keyword-gated regex.
    KeywordFlood,
}

impl Class {
    pub const REALISTIC: [Class; 6] = [
        Class::Prose,
        Class::Code,
        Class::Json,
        Class::Logs,
        Class::Cjk,
        Class::CjkEscaped,
    ];
    pub const ADVERSARIAL: [Class; 3] = [Class::DigitRuns, Class::Base64Wall, Class::KeywordFlood];
    pub const ALL: [Class; 9] = [
        Class::Prose,
        Class::Code,
        Class::Json,
        Class::Logs,
        Class::Cjk,
        Class::CjkEscaped,
        Class::DigitRuns,
        Class::Base64Wall,
        Class::KeywordFlood,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Prose => "prose",
            Class::Code => "code",
            Class::Json => "json",
            Class::Logs => "logs",
            Class::Cjk => "cjk",
            Class::CjkEscaped => "cjk-escaped",
            Class::DigitRuns => "adv-digits",
            Class::Base64Wall => "adv-base64",
            Class::KeywordFlood => "adv-keywords",
        }
    }

    pub fn is_adversarial(self) -> bool {
        Class::ADVERSARIAL.contains(&self)
    }

    fn salt(self) -> u64 {
        Class::ALL.iter().position(|c| *c == self).unwrap_or(0) as u64 * 0x1000_0001
    }
}

/// The sizes the benchmarks use.
pub const SIZES: [usize; 3] = [8 << 10, 64 << 10, 1 << 20];

/// A human label for a size: `8KiB`, `64KiB`, `1MiB`.
pub fn size_label(size: usize) -> String {
    if size >= 1 << 20 && size.is_multiple_of(1 << 20) {
        format!("{}MiB", size >> 20)
    } else {
        format!("{}KiB", size >> 10)
    }
}

/// The body named by command-line arguments `CLASS [SIZE [SEED]]` (size 8192 and seed 1 by default).
pub fn body_from_args(args: &[String]) -> Result<Vec<u8>, String> {
    let class = args
        .first()
        .and_then(|name| Class::ALL.into_iter().find(|c| c.name() == name))
        .ok_or_else(|| format!("first argument: one of {:?}", Class::ALL.map(Class::name)))?;
    let size = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(8192);
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    Ok(chat_body(class, size, seed))
}

/// An OpenAI chat-completions body of at most `size` bytes (within a paragraph of it) holding `class` text.
/// A chat body of `n` short messages (a few words each, no finding): what a field costs
/// beyond its bytes.
pub fn short_fields_body(n: usize) -> Vec<u8> {
    let messages: Vec<Value> = (0..n)
        .map(|i| json!({"role": "user", "content": format!("see item {} of the list", i % 10)}))
        .collect();
    serde_json::to_vec(&json!({"model": "gpt-4o", "messages": messages})).unwrap_or_default()
}

pub fn chat_body(class: Class, size: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ class.salt());
    let mut gen = Generator::new(class);
    let system =
        "You are a helpful assistant for the engineering and operations teams. Answer concisely.";
    let mut messages = vec![json!({"role": "system", "content": system})];
    let envelope = |messages: &Vec<Value>| json!({"model": "gpt-4o", "temperature": 0.2, "messages": messages});
    let mut used = body_len(&envelope(&messages), class);
    let mut turn = 0usize;
    while used + 64 < size {
        // Turns of 2-32 KiB: short questions, long pastes.
        let budget = (size - used - 40).min(rng.range(2 << 10, 32 << 10));
        let role = if turn.is_multiple_of(2) {
            "user"
        } else {
            "assistant"
        };
        let message = gen.message(&mut rng, role, budget);
        let Some(message) = message else { break };
        let cost = body_len(&message, class) + 1;
        if used + cost > size {
            break;
        }
        used += cost;
        messages.push(message);
        turn += 1;
    }
    serialize(&envelope(&messages), class)
}

/// Paragraphs of `class` text, at most about `budget` bytes as a JSON string.
pub fn text(class: Class, rng: &mut Rng, budget: usize) -> String {
    Generator::new(class).fill(rng, budget)
}

fn serialize(value: &Value, class: Class) -> Vec<u8> {
    let text = value.to_string();
    if class == Class::CjkEscaped {
        ascii_escape(&text).into_bytes()
    } else {
        text.into_bytes()
    }
}

fn body_len(value: &Value, class: Class) -> usize {
    serialize(value, class).len()
}

/// JSON text with every non-ASCII character written as `\uXXXX` (surrogate pairs above the BMP).
fn ascii_escape(json_text: &str) -> String {
    let mut out = String::with_capacity(json_text.len() * 2);
    for c in json_text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

/// Escaped length of `text` as a JSON string (approximate for `CjkEscaped`).
fn json_len(text: &str, class: Class) -> usize {
    let plain = serde_json::to_string(text)
        .map(|s| s.len())
        .unwrap_or(text.len());
    if class == Class::CjkEscaped {
        plain + text.chars().filter(|c| !c.is_ascii()).count() * 3
    } else {
        plain
    }
}

struct Generator {
    class: Class,
    keywords: Vec<String>,
}

impl Generator {
    fn new(class: Class) -> Generator {
        let keywords = if class == Class::KeywordFlood {
            policy_keywords()
        } else {
            Vec::new()
        };
        Generator { class, keywords }
    }

    /// One message whose serialised form is at most about `budget` bytes.
    fn message(&mut self, rng: &mut Rng, role: &str, budget: usize) -> Option<Value> {
        if self.class == Class::Json && role == "assistant" && rng.one_in(2) {
            return self.tool_call(rng, budget);
        }
        let text = self.fill(rng, budget.saturating_sub(40));
        (!text.is_empty()).then(|| json!({"role": role, "content": text}))
    }

    /// Paragraphs until the next one would overflow `budget` (as JSON string bytes).
    fn fill(&mut self, rng: &mut Rng, budget: usize) -> String {
        let mut text = String::new();
        let mut len = 2;
        for _ in 0..100_000 {
            let paragraph = self.paragraph(rng);
            let separator = if text.is_empty() { "" } else { "\n\n" };
            let cost = json_len(&paragraph, self.class) - 2 + if text.is_empty() { 0 } else { 4 };
            if len + cost > budget {
                // Fill the rest of the budget with the start of this paragraph.
                let room = budget.saturating_sub(len + 4);
                let cut = self.prefix_fitting(&paragraph, room);
                if cut.len() > 16 {
                    text.push_str(separator);
                    text.push_str(cut);
                }
                break;
            }
            text.push_str(separator);
            text.push_str(&paragraph);
            len += cost;
        }
        text
    }

    /// The longest prefix of `text` (at a char boundary) whose JSON string form fits in `room` bytes.
    fn prefix_fitting<'t>(&self, text: &'t str, room: usize) -> &'t str {
        let mut end = text.len().min(room);
        loop {
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let prefix = &text[..end];
            if end == 0 || json_len(prefix, self.class) - 2 <= room {
                return prefix;
            }
            end = end * 9 / 10;
        }
    }

    fn paragraph(&mut self, rng: &mut Rng) -> String {
        match self.class {
            Class::Prose => prose_paragraph(rng),
            Class::Code => code_block(rng),
            Class::Json => serde_json::to_string_pretty(&json_document(rng)).unwrap_or_default(),
            Class::Logs => log_lines(rng),
            Class::Cjk | Class::CjkEscaped => cjk_paragraph(rng),
            Class::DigitRuns => digit_runs(rng),
            Class::Base64Wall => base64_wall(rng),
            Class::KeywordFlood => keyword_flood(rng, &self.keywords),
        }
    }

    fn tool_call(&mut self, rng: &mut Rng, budget: usize) -> Option<Value> {
        let mut records = Vec::new();
        let mut len = 200;
        loop {
            let record = json_document(rng);
            let cost = record.to_string().len() * 5 / 4 + 2;
            if len + cost > budget {
                break;
            }
            len += cost;
            records.push(record);
        }
        if records.is_empty() {
            return None;
        }
        let arguments = json!({"table": "orders", "rows": records}).to_string();
        let id = format!("call_{:016x}", rng.next_u64());
        Some(json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{"id": id, "type": "function", "function": {"name": "upsert_rows", "arguments": arguments}}]
        }))
    }
}

/// Every keyword and ASCII dictionary phrase of the embedded default policy.
pub fn policy_keywords() -> Vec<String> {
    let doc: Value =
        serde_json::from_str(airlock_filter::DEFAULT_POLICY_JSON).unwrap_or(Value::Null);
    let mut out: Vec<String> = Vec::new();
    for d in doc["detectors"].as_array().into_iter().flatten() {
        for k in d["keywords"].as_array().into_iter().flatten() {
            out.extend(k.as_str().map(str::to_string));
        }
        for p in d["dictionary"]["phrases"].as_array().into_iter().flatten() {
            out.extend(p.as_str().map(str::to_string));
        }
    }
    out.sort();
    out.dedup();
    out
}

// ------------------------------------------------------------------ vocabulary

const FIRST: &[&str] = &[
    "marta", "james", "li", "wei", "anna", "david", "sofia", "omar", "priya", "lukas", "chen",
    "olivia", "mateo", "yuki", "fatima", "noah", "elena", "kofi", "ingrid", "raj",
];
const LAST: &[&str] = &[
    "kowalski", "smith", "zhang", "nguyen", "garcia", "muller", "tanaka", "okafor", "rossi",
    "patel", "silva", "jensen", "dubois", "kim", "haddad", "novak",
];
const DOMAINS: &[&str] = &[
    "northwind-traders.co.uk",
    "fabrikam-mail.net",
    "contoso.com",
    "globex.io",
    "initech.de",
    "umbrella-corp.org",
    "163.com",
    "qq.com",
    "wayne-enterprises.com",
    "hooli.dev",
];
const NOUNS: &[&str] = &[
    "invoice",
    "deployment",
    "customer",
    "report",
    "meeting",
    "budget",
    "release",
    "contract",
    "roadmap",
    "incident",
    "dashboard",
    "migration",
    "schedule",
    "vendor",
    "proposal",
    "service",
    "database",
    "pipeline",
    "team",
    "quarter",
    "ticket",
    "feature",
    "cluster",
    "estimate",
    "review",
    "document",
    "workflow",
    "timeline",
    "request",
    "account",
    "integration",
    "policy",
    "summary",
    "backlog",
    "forecast",
    "supplier",
    "shipment",
    "warehouse",
    "audit",
    "onboarding",
];
const VERBS: &[&str] = &[
    "review",
    "draft",
    "update",
    "summarise",
    "explain",
    "compare",
    "approve",
    "schedule",
    "migrate",
    "analyse",
    "rewrite",
    "check",
    "prepare",
    "escalate",
    "translate",
    "estimate",
    "plan",
    "organise",
    "confirm",
    "cancel",
];
const ADJECTIVES: &[&str] = &[
    "late",
    "quarterly",
    "new",
    "urgent",
    "internal",
    "detailed",
    "final",
    "previous",
    "shared",
    "annual",
    "revised",
    "critical",
    "pending",
    "monthly",
    "overdue",
    "preliminary",
    "regional",
    "technical",
    "short",
    "clear",
];
const FILLER: &[&str] = &[
    "the",
    "a",
    "for",
    "with",
    "about",
    "before",
    "after",
    "and",
    "because",
    "so that",
    "while",
    "in",
    "on",
    "from",
    "to",
    "by",
    "this",
    "our",
    "their",
    "next week",
    "tomorrow",
    "as soon as possible",
    "if possible",
    "again",
];

fn email(rng: &mut Rng) -> String {
    let sep = *rng.pick(&[".", "_", ""]);
    format!(
        "{}{}{}@{}",
        rng.pick(FIRST),
        sep,
        rng.pick(LAST),
        rng.pick(DOMAINS)
    )
}

fn ipv4(rng: &mut Rng) -> String {
    let first = *rng.pick(&[10usize, 172, 192, 203, 198, 34, 52, 100]);
    format!(
        "{first}.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        rng.range(1, 254)
    )
}

fn phone(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!("+44 20 7946 0{:03}", rng.below(1000)),
        1 => format!("(415) 555-01{:02}", rng.below(100)),
        _ => format!("+49 151 {:08}", rng.below(100_000_000)),
    }
}

fn sentence(rng: &mut Rng) -> String {
    let mut s = String::new();
    let words = rng.range(8, 20);
    for i in 0..words {
        let word = match rng.below(6) {
            0 => *rng.pick(NOUNS),
            1 => *rng.pick(VERBS),
            2 => *rng.pick(ADJECTIVES),
            _ => *rng.pick(FILLER),
        };
        if i == 0 {
            let mut chars = word.chars();
            if let Some(c) = chars.next() {
                s.extend(c.to_uppercase());
                s.push_str(chars.as_str());
            }
        } else {
            s.push(' ');
            s.push_str(word);
        }
        if rng.one_in(25) {
            let _ = write!(s, " {}", number_token(rng));
        }
    }
    s.push(*rng.pick(&['.', '.', '.', '?', '!']));
    s
}

/// Numbers that appear in prose: money, percentages, versions, dates, ticket numbers.
fn number_token(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => format!("${},{:03}", rng.range(1, 99), rng.below(1000)),
        1 => format!("{}%", rng.range(1, 99)),
        2 => format!("v{}.{}.{}", rng.below(10), rng.below(30), rng.below(100)),
        3 => format!("2026-{:02}-{:02}", rng.range(1, 12), rng.range(1, 28)),
        4 => format!("#{}", rng.range(1000, 99_999)),
        _ => format!("{}", rng.range(2, 500)),
    }
}

/// 3-7 sentences; about one in eight paragraphs (~ every 4 KiB) carries a contact detail.
fn prose_paragraph(rng: &mut Rng) -> String {
    let mut p = String::new();
    for i in 0..rng.range(3, 7) {
        if i > 0 {
            p.push(' ');
        }
        p.push_str(&sentence(rng));
    }
    if rng.one_in(8) {
        let finding = match rng.below(3) {
            0 => format!(
                " Please send the {} to {} by Friday.",
                rng.pick(NOUNS),
                email(rng)
            ),
            1 => format!(
                " You can reach {} on {} after six.",
                rng.pick(FIRST),
                phone(rng)
            ),
            _ => format!(
                " The staging server at {} is the one that fails.",
                ipv4(rng)
            ),
        };
        p.push_str(&finding);
    }
    p
}

fn ident(rng: &mut Rng) -> String {
    format!("{}_{}", rng.pick(VERBS), rng.pick(NOUNS))
}

/// A Rust or Python snippet; config values (hosts, IPs, env lookups) every few KiB.
fn code_block(rng: &mut Rng) -> String {
    let mut s = String::new();
    let name = ident(rng);
    let noun = *rng.pick(NOUNS);
    if rng.one_in(2) {
        let _ = write!(
            s,
            "```rust\nuse std::collections::HashMap;\nuse std::time::Duration;\n\n/// {}\n#[derive(Debug, Clone)]\npub struct {}Config {{\n    pub url: String,\n    pub timeout: Duration,\n    pub retries: u32,\n}}\n\npub fn {name}(items: &[{}Item], cache: &mut HashMap<u64, usize>) -> Result<usize, Error> {{\n    let mut total = 0usize;\n    for (i, item) in items.iter().enumerate() {{\n        if item.id % {} == 0 {{\n            continue;\n        }}\n        let key = item.id.wrapping_mul(0x9e37_79b9_7f4a_7c15);\n        *cache.entry(key).or_insert(0) += 1;\n        total += item.len().checked_mul({}).ok_or(Error::Overflow(i))?;\n    }}\n    tracing::debug!(total, \"{name} finished\");\n    Ok(total)\n}}\n",
            sentence(rng),
            capitalise(noun),
            capitalise(noun),
            rng.range(2, 17),
            rng.range(2, 9),
        );
        if rng.one_in(4) {
            let _ = write!(
                s,
                "\nconst UPSTREAM: &str = \"http://{}:{}/v1/{noun}\";\n",
                ipv4(rng),
                rng.range(1024, 9999)
            );
        }
        s.push_str("```");
    } else {
        let _ = write!(
            s,
            "```python\nimport os\nimport json\nimport logging\nfrom dataclasses import dataclass\n\nlog = logging.getLogger(__name__)\n\n\n@dataclass\nclass {}Record:\n    id: int\n    name: str\n    amount: float = 0.0\n\n\ndef {name}(path: str, limit: int = {}) -> list[{}Record]:\n    \"\"\"{}\"\"\"\n    out = []\n    with open(path, encoding=\"utf-8\") as f:\n        for line_no, line in enumerate(f):\n            if line_no >= limit:\n                break\n            row = json.loads(line)\n            out.append({}Record(id=row[\"id\"], name=row[\"name\"], amount=float(row.get(\"amount\", 0))))\n    log.info(\"loaded %d rows from %s\", len(out), path)\n    return out\n",
            capitalise(noun),
            rng.range(10, 10_000),
            capitalise(noun),
            sentence(rng),
            capitalise(noun),
        );
        match rng.below(6) {
            0 => {
                let _ = write!(
                    s,
                    "\nDB_HOST = os.environ.get(\"DB_HOST\", \"{}\")\nDB_PASSWORD = os.environ[\"DB_PASSWORD\"]\n",
                    ipv4(rng)
                );
            }
            1 => {
                let _ = write!(s, "\n# owner: {}\n", email(rng));
            }
            _ => {}
        }
        s.push_str("```");
    }
    s
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// An API-response-like document; one record in ten names a person with an email.
fn json_document(rng: &mut Rng) -> Value {
    let mut items = Vec::new();
    for _ in 0..rng.range(2, 6) {
        let mut uuid = String::new();
        rng.hex(&mut uuid, 8);
        uuid.push('-');
        rng.hex(&mut uuid, 4);
        uuid.push_str("-4");
        rng.hex(&mut uuid, 3);
        uuid.push('-');
        rng.hex(&mut uuid, 4);
        uuid.push('-');
        rng.hex(&mut uuid, 12);
        items.push(json!({
            "sku": format!("{}-{:05}", rng.pick(NOUNS).to_uppercase(), rng.below(100_000)),
            "uuid": uuid,
            "qty": rng.range(1, 40),
            "unit_price": (rng.range(100, 99_999) as f64) / 100.0,
            "status": rng.pick(&["pending", "shipped", "delivered", "returned"]),
            "updated_at": format!("2026-{:02}-{:02}T{:02}:{:02}:{:02}Z", rng.range(1, 12), rng.range(1, 28), rng.below(24), rng.below(60), rng.below(60)),
        }));
    }
    let mut doc = json!({
        "id": rng.range(100_000, 999_999),
        "object": "order",
        "customer_ref": format!("C{:07}", rng.below(10_000_000)),
        "region": rng.pick(&["eu-west-1", "us-east-2", "ap-southeast-1"]),
        "items": items,
        "note": sentence(rng),
        "metadata": {"source": "web", "campaign": rng.pick(ADJECTIVES), "ab_bucket": rng.below(4)},
    });
    if rng.one_in(10) {
        doc["contact"] = json!({"name": format!("{} {}", capitalise(rng.pick::<&str>(FIRST)), capitalise(rng.pick::<&str>(LAST))), "email": email(rng)});
    }
    doc
}

/// 10-30 log lines; an IP about every 2-3 KiB, an email about every 8 KiB.
fn log_lines(rng: &mut Rng) -> String {
    let mut s = String::new();
    let services = ["api-gateway", "billing", "auth", "search", "worker"];
    for _ in 0..rng.range(10, 30) {
        let level = *rng.pick(&["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]);
        let _ = write!(
            s,
            "2026-11-{:02}T{:02}:{:02}:{:02}.{:03}Z {level:<5} [{}-{}] req=",
            rng.range(1, 28),
            rng.below(24),
            rng.below(60),
            rng.below(60),
            rng.below(1000),
            rng.pick(&services),
            rng.below(8),
        );
        rng.hex(&mut s, 16);
        let _ = write!(
            s,
            " method={} path=/api/v2/{}/{} status={} dur_ms={}.{} bytes={}",
            rng.pick(&["GET", "GET", "POST", "PUT", "DELETE"]),
            rng.pick(NOUNS),
            rng.below(100_000),
            rng.pick(&[200, 200, 200, 201, 204, 304, 400, 404, 500, 503]),
            rng.below(900),
            rng.below(10),
            rng.below(200_000),
        );
        if rng.one_in(16) {
            let _ = write!(s, " client={}", ipv4(rng));
        }
        if rng.one_in(60) {
            let _ = write!(s, " user={}", email(rng));
        }
        if level == "ERROR" {
            let _ = write!(
                s,
                " err=\"upstream connect error or disconnect/reset before headers. reset reason: connection timeout\"\n    at {}::{} ({}.rs:{})",
                rng.pick(&services),
                ident(rng),
                rng.pick(NOUNS),
                rng.range(10, 900)
            );
        }
        s.push('\n');
    }
    s
}

const CJK_PHRASES: &[&str] = &[
    "请帮我审阅这份合同",
    "我们需要在下周之前完成",
    "客户反馈系统响应太慢",
    "这个问题已经修复了",
    "请把报告发给项目经理",
    "预算需要重新评估",
    "服务器在凌晨出现故障",
    "新版本的发布计划",
    "数据库迁移的风险",
    "请翻译成英文",
    "会议改到明天下午三点",
    "供应商的报价比去年高",
    "我们的团队负责后端接口",
    "用户增长率达到百分之二十",
    "请总结一下主要内容",
    "产品路线图需要更新",
    "订单已经发货",
    "库存不足",
    "测试环境部署失败",
    "日志显示超时错误",
    "东京的办公室",
    "プロジェクトの進捗を確認してください",
    "来週の会議の資料",
    "API 接口文档",
    "JSON 格式",
    "Kubernetes 集群",
    "CI 流水线",
];

/// Chinese sentences (a little Japanese and English); a mobile number or email every ~4 KiB.
fn cjk_paragraph(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.range(4, 12) {
        for i in 0..rng.range(1, 3) {
            if i > 0 {
                s.push('，');
            }
            s.push_str(rng.pick::<&str>(CJK_PHRASES));
        }
        s.push(*rng.pick(&['。', '。', '？', '！']));
    }
    if rng.one_in(12) {
        let _ = write!(s, "联系人手机号：1{}", rng.range(3, 9));
        rng.digits(&mut s, 9);
        s.push('。');
    } else if rng.one_in(12) {
        let _ = write!(s, "请发邮件到 {} 确认。", email(rng));
    }
    s
}

/// Digit runs: very long ones, card-shaped groups that fail Luhn, phone-shaped and id-shaped runs.
fn digit_runs(rng: &mut Rng) -> String {
    let mut s = String::new();
    match rng.below(4) {
        0 => {
            let n = rng.range(200, 4000);
            rng.digits(&mut s, n)
        }
        1 => {
            // Grouped in fours with spaces or dashes, like card numbers, but one long run.
            let sep = *rng.pick(&[" ", "-"]);
            for i in 0..rng.range(50, 500) {
                if i > 0 {
                    s.push_str(sep);
                }
                s.push(char::from(b'2' + rng.below(5) as u8));
                rng.digits(&mut s, 3);
            }
        }
        2 => {
            // Phone- and id-shaped tokens separated by single spaces.
            for i in 0..rng.range(50, 300) {
                if i > 0 {
                    s.push(' ');
                }
                match rng.below(3) {
                    0 => {
                        s.push('+');
                        s.push(char::from(b'1' + rng.below(9) as u8));
                        {
                            let n = rng.range(6, 20);
                            rng.digits(&mut s, n)
                        };
                    }
                    1 => {
                        s.push('1');
                        rng.digits(&mut s, 17);
                    }
                    _ => {
                        let n = rng.range(9, 19);
                        rng.digits(&mut s, n)
                    }
                }
            }
        }
        _ => {
            // Numeric tables: CSV rows of long numbers.
            for _ in 0..rng.range(20, 80) {
                for c in 0..8 {
                    if c > 0 {
                        s.push(',');
                    }
                    {
                        let n = rng.range(8, 16);
                        rng.digits(&mut s, n)
                    };
                }
                s.push('\n');
            }
        }
    }
    s
}

fn base64(bytes: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
}

/// Base64 walls: random bytes (images, archives) and base64 of base64 of prose (nested layers).
fn base64_wall(rng: &mut Rng) -> String {
    let mut s = String::new();
    match rng.below(3) {
        0 => {
            let bytes: Vec<u8> = (0..rng.range(1 << 10, 24 << 10))
                .map(|_| rng.next_u64() as u8)
                .collect();
            s.push_str("data:image/png;base64,");
            base64(&bytes, &mut s);
        }
        1 => {
            let bytes: Vec<u8> = (0..rng.range(1 << 10, 12 << 10))
                .map(|_| rng.next_u64() as u8)
                .collect();
            let mut wall = String::new();
            base64(&bytes, &mut wall);
            s.push_str("Here is the attachment:\n");
            for line in wall.as_bytes().chunks(76) {
                s.push_str(std::str::from_utf8(line).unwrap_or_default());
                s.push('\n');
            }
        }
        _ => {
            let mut inner = String::new();
            for _ in 0..rng.range(2, 6) {
                inner.push_str(&prose_paragraph(rng));
                inner.push('\n');
            }
            let mut once = String::new();
            base64(inner.as_bytes(), &mut once);
            s.push_str("token=");
            base64(once.as_bytes(), &mut s);
        }
    }
    s
}

/// A keyword every ~20 bytes, each followed by a value that almost matches its detector.
fn keyword_flood(rng: &mut Rng, keywords: &[String]) -> String {
    let mut s = String::new();
    for _ in 0..rng.range(40, 120) {
        let keyword = if keywords.is_empty() {
            "password"
        } else {
            rng.pick(keywords).as_str()
        };
        s.push_str(keyword);
        match rng.below(5) {
            0 => s.push_str(": short "),
            1 => {
                s.push('=');
                {
                    let n = rng.range(4, 12);
                    rng.hex(&mut s, n)
                };
                s.push(' ');
            }
            2 => s.push_str(" is the prefix, see @docs "),
            3 => {
                s.push_str(" 4111 1111 1111 111");
                s.push(char::from(b'2' + rng.below(8) as u8));
                s.push(' ');
            }
            _ => {
                s.push('_');
                for _ in 0..rng.range(8, 30) {
                    s.push(char::from(b'A' + rng.below(26) as u8));
                }
                s.push_str(" npm i @types/node@20.11.5 ");
            }
        }
    }
    s
}

/// A minimal chat body: the harness baseline.
pub fn minimal_body() -> Vec<u8> {
    br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        for class in Class::ALL {
            for size in [8 << 10, 64 << 10] {
                let a = chat_body(class, size, 7);
                let b = chat_body(class, size, 7);
                assert_eq!(a, b, "{class:?}");
                assert!(a.len() <= size, "{class:?} {size}: {}", a.len());
                assert!(a.len() > size * 3 / 4, "{class:?} {size}: {}", a.len());
                let _: Value = serde_json::from_slice(&a).expect("valid JSON");
            }
        }
    }
}
