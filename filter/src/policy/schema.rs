//! The policy document as operators write it (schema v1).
//!
//! These types mirror the YAML/JSON file field by field and reject unknown
//! fields, so a typo is an error instead of a silently ignored setting. They
//! carry no meaning beyond the shape: `compile` checks cross-references
//! (classes, tiers, ids), regexes and limits, and turns them into the engine's
//! types, where invalid states cannot be represented.

use serde::{Deserialize, Serialize};

/// The only schema version this build understands.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// Schema version; must be 1.
    pub schema: u32,
    pub metadata: Metadata,
    /// `enforce` (default) or `monitor` (dry run: every action becomes monitor).
    #[serde(default)]
    pub mode: Mode,
    /// Classification levels, lowest first, e.g. `[public, internal, confidential, secret]`.
    pub classes: Vec<String>,
    pub destinations: Destinations,
    /// Ordered action rules; the first rule whose selectors all match a finding decides.
    #[serde(default)]
    pub rules: Vec<RuleDoc>,
    #[serde(default)]
    pub limits: LimitsDoc,
    #[serde(default)]
    pub hashing: HashingDoc,
    /// Values that are never findings, whatever detector matches them (placeholders, documented examples).
    #[serde(default)]
    pub allowlist: Vec<String>,
    pub detectors: Vec<DetectorDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestCaseDoc>,
    /// Vendor keys bound for hosts that are not the vendor's are blocked (see `policy::relay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_theft: Option<super::relay_doc::KeyTheftDoc>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Monitor,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Destinations {
    /// The tier of any host no tier lists (the unknown relay).
    pub default_tier: String,
    pub tiers: Vec<TierDoc>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TierDoc {
    pub name: String,
    /// Highest class this tier may receive unprotected.
    pub max_class: String,
    /// Exact hosts (`api.openai.com`) or wildcard suffixes (`*.openai.azure.com`). Ports are ignored.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Optional path prefixes; when present the tier matches only requests under one of them.
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON members set or removed in requests to this tier (see `policy::relay`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<super::relay_doc::FieldRuleDoc>,
    /// Classes whose `tokenize` tokens are put back in this tier's responses (JSON and SSE).
    /// Empty (the default): tokens stay tokens, a consistent pseudonym the tier never resolves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restore: Vec<String>,
    /// A response naming another model than the request asked for (after normalizing dates
    /// and aliases) is always counted, audited and flagged in `x-airlock-model-mismatch`;
    /// `block` also replaces a response whose model is known before its headers leave (a
    /// JSON response, or a stream's first chunk) with a provider-shaped error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_model_mismatch: Option<ModelMismatchDoc>,
    /// Inspect this tier's responses (model output: content text and tool-call arguments, in
    /// JSON and SSE) with the policy's detectors. A finding counts when its detector's action
    /// on this tier is not `allow`. `monitor`: counted and audited; `mask`: also replaced by
    /// the detector's mask. Absent (the default): responses are not inspected. See
    /// docs/response-path.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspect_responses: Option<InspectResponsesDoc>,
}

/// What a tier does with a finding in its responses (`inspect_responses`). There is no
/// `block`: a stream's headers and first events are gone before its last event is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum InspectResponsesDoc {
    Monitor,
    Mask,
}

/// What a tier does with a response from another model than the one requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ModelMismatchDoc {
    Monitor,
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionDoc {
    Allow,
    Monitor,
    /// Replace each finding with a reversible token (`[EMAIL_7Q2F]`); see `TierDoc::restore`.
    Tokenize,
    Hash,
    Mask,
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum KindDoc {
    Credential,
    Pii,
    TradeSecret,
    Custom,
}

/// One action rule. Absent selectors match anything.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<KindDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    pub action: ActionDoc,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LimitsDoc {
    /// Largest body inspected; a larger one follows `on_uninspectable`.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// What happens to a request that cannot be inspected: `block` (default) or `allow`.
    #[serde(default)]
    pub on_uninspectable: FailModeDoc,
}

impl Default for LimitsDoc {
    fn default() -> Self {
        LimitsDoc {
            max_body_bytes: default_max_body_bytes(),
            on_uninspectable: FailModeDoc::Block,
        }
    }
}

fn default_max_body_bytes() -> u64 {
    1024 * 1024
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailModeDoc {
    #[default]
    Block,
    Allow,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HashingDoc {
    /// Environment variable (of the CLI, or of the wasm VM via Envoy's
    /// `vm_config.environment_variables`) holding the HMAC key for the `hash`
    /// action and audit fingerprints. Never put the key itself in a policy.
    #[serde(default = "default_key_env")]
    pub key_env: String,
}

impl Default for HashingDoc {
    fn default() -> Self {
        HashingDoc {
            key_env: default_key_env(),
        }
    }
}

fn default_key_env() -> String {
    "AIRLOCK_HASH_KEY".to_string()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DetectorDoc {
    /// Unique, lowercase `[a-z0-9-]`, at most 64 bytes; it appears in stats names and replies.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub class: String,
    pub kind: KindDoc,
    /// A byte-oriented, ASCII-mode regex. A named group `secret` narrows the finding to that group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// For `regex`: at least one of these must occur (ASCII case-insensitively) in the text
    /// for the regex to run at all, and it then runs only around each occurrence: within the
    /// regex's longest possible match plus 256 bytes (the whole text if its matches are
    /// unbounded or longer than 4 KiB). Omit only for patterns with no literal anchor (digits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// The alternative to `regex`: a phrase dictionary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dictionary: Option<DictionaryDoc>,
    /// The alternative to `regex`: copies of protected documents (`airlock index documents`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<DocumentsDoc>,
    /// The alternative to `regex`: rows of a protected table (`airlock index records`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<RecordsDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validators: Vec<ValidatorDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextDoc>,
    /// Exact matched values that are never findings (documented examples, placeholders).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Also match over the joined text of each message (`message`) or of the whole request
    /// (`request`), so a secret cut across fields is found. A joined finding that spans
    /// fields cannot be masked in place: its mask or hash becomes a block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<JoinDoc>,
    /// Overrides the rules for this detector, on every tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionDoc>,
    /// Replacement text for `mask`; `{id}`, `{class}` and `{kind}` are substituted.
    /// Default `[REDACTED:{id}]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
    /// How `tokenize` spells this detector's tokens: `{prefix: EMAIL}` gives `[EMAIL_7Q2F]`.
    /// Default prefix: the id in capitals, `-` as `_`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenDoc>,
    /// Texts this detector must find (`match`) and must not find (`ignore`); run by `airlock check`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<ExamplesDoc>,
    /// A catch-all (a generic assignment pattern): its finding is dropped when a detector that is
    /// not a fallback, of the same kind, finds an overlapping span in the same field.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fallback: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum JoinDoc {
    Message,
    Request,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DictionaryDoc {
    pub phrases: Vec<String>,
    /// Require a non-alphanumeric byte (or the text edge) on both sides of an ASCII phrase edge.
    #[serde(default)]
    pub whole_word: bool,
    /// Default: ASCII case-insensitive.
    #[serde(default)]
    pub case_sensitive: bool,
}

/// A documents detector: `{index: protected/acme-source.idx, min_chars: 200}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DocumentsDoc {
    /// The index file, relative to the policy file (the policy directory's main file).
    pub index: String,
    /// The shortest copy reported, in characters (at least 50).
    pub min_chars: usize,
    /// Whether copies whose identifiers were renamed are reported (default: yes). `false`
    /// reports only copies that kept names or prose as written: far fewer false findings on
    /// code in the indexed language, which shares shapes with it once names are blinded.
    #[serde(
        default = "renamed_default",
        skip_serializing_if = "is_renamed_default"
    )]
    pub renamed: bool,
    /// The index file's bytes, base64: filled from `index` by `airlock check`, `build` and
    /// `scan` when they read the policy, and carried whole in the built configuration.
    /// Never written by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// `documents.renamed` when a policy leaves it out: renamed copies are reported.
fn renamed_default() -> bool {
    true
}

/// Whether `documents.renamed` is its default (then it is not written, so the digest of a
/// policy that leaves it out is what it was before the field existed).
fn is_renamed_default(renamed: &bool) -> bool {
    *renamed
}

/// A records detector: `{index: protected/customers.idx, min_fields: 2}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordsDoc {
    /// The index file, relative to the policy file (the policy directory's main file).
    pub index: String,
    /// How many fields of one row one text must hold (a unique column is enough alone).
    pub min_fields: usize,
    /// The index file's bytes, base64, as for [`DocumentsDoc::data`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// Checks run on each candidate match; all must pass.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ValidatorDoc {
    /// Luhn mod-10 checksum over the digits of the match.
    Luhn,
    /// Luhn plus a known card issuer prefix and length (Visa, Mastercard, Amex, Discover, JCB, UnionPay, Diners, Maestro,
    /// UATP, Mir, RuPay, Troy, Verve, Dankort, InstaPayment, InterPayment, Laser).
    PaymentCard,
    /// IBAN: known country, its length, and the ISO 13616 mod-97 check.
    Iban,
    /// Chinese resident identity number: GB 11643 check digit and a valid birth date.
    CnResidentId,
    /// US SSN area/group/serial rules (no 000, 666, 9xx area; no 00 group; no 0000 serial).
    UsSsn,
    /// Shannon entropy of the match (or `secret` group), in bits per byte, at least this.
    MinEntropy(f64),
    /// Length bounds in bytes of the match (or `secret` group).
    Length(LengthDoc),
    /// The match must not consist of one repeated byte or an ascending run like `1234567890`.
    NotTrivial,
    /// `payment_card`, for a network other than Visa, Mastercard, Amex, Discover, JCB,
    /// UnionPay and Diners (UATP, Mir, RuPay, Maestro, Troy, Verve, Dankort, ...).
    PaymentCardOther,
    /// A dotted-quad IPv4 address that is public: not private, shared, loopback, link-local,
    /// documentation (RFC 5737), multicast or reserved, and not shaped like a version, a
    /// section number or an OID (the first two parts single digits: `4.5.103.35`, `1.3.101.112`).
    Ipv4Public,
    /// A dotted-quad IPv4 address in 10/8, 172.16/12, 192.168/16, 100.64/10, 127/8 or 169.254/16.
    Ipv4Internal,
    /// Not a documentation address: RFC 5737 (IPv4) or 2001:db8::/32 (RFC 3849, IPv6).
    NotDocumentationIp,
    /// 8 to 15 digits separated only by spaces, dashes, dots, slashes, parentheses or `+`,
    /// not one repeated digit, not shaped like a date (`01.02.2024`, `2024-02-01`) or a
    /// US ZIP+4 code or a signed decimal (`+352.6`), not starting `000`; after `+CC`, a national number of the length the
    /// country's plan allows (NANP, UK, FR, ES, CN, IN, JP, AU, BR, RU; others any).
    PhoneNumber,
    /// An IPv6 address as people write one, not a code path (`de::`, `Add::add`), a slice
    /// (`[0::2]`) or a fingerprint: at least two groups and four hex digits, a digit, letters
    /// of one case, not eight 2-digit groups.
    Ipv6Address,
    /// The value is not a placeholder, template, type name, code reference or redaction
    /// (`${VAR}`, `<password>`, `changeme`, `xxx`, `null`, `string`, `os.environ[...]`).
    NotPlaceholder,
    /// The value is not code or prose: an identifier chain (`self.token`), a type or constant
    /// name (`WIN32_ERROR`, `Option`, `ObjectIdentifier`), a call (`make_token(`) or a sentence
    /// (`Password used to generate key`).
    NotCode,
    /// A JSON Web Token whose header base64url-decodes to a JSON object naming an `alg`.
    Jwt,
    /// The last 6 characters are the base62 CRC32 of the rest (GitHub and npm tokens).
    Crc32Suffix,
    /// Base64 of printable `user:password`, the password not a placeholder.
    BasicAuth,
    /// A digit, or both upper- and lower-case letters (not a lower-case word or name).
    Mixed,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LengthDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<usize>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ContextDoc {
    /// At least one of these words must occur (ASCII case-insensitively) within `window` bytes of the match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hotwords: Vec<String>,
    /// None of these words may occur (ASCII case-insensitively) within `window` bytes before the
    /// match: words that make the match something else (`version 1.2.3.4`, `OID 1.3.6.1`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_after: Vec<String>,
    /// How many bytes before the match `not_after` looks at (default: `window`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after_window: Option<usize>,
    #[serde(default = "default_context_window")]
    pub window: usize,
}

fn default_context_window() -> usize {
    64
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExamplesDoc {
    #[serde(default, rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TestCaseDoc {
    pub name: String,
    #[serde(default = "default_test_host")]
    pub host: String,
    #[serde(default = "default_test_path")]
    pub path: String,
    /// A JSON value (sent as JSON) or a string (sent as is).
    pub body: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub expect: ExpectDoc,
}

fn default_test_host() -> String {
    "api.openai.com".to_string()
}

fn default_test_path() -> String {
    "/v1/chat/completions".to_string()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExpectDoc {
    pub decision: DecisionDoc,
    /// Exactly these detector ids are found (order and repeats ignored). Omit to not check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detectors: Option<Vec<String>>,
    /// Substrings the egress body must contain / not contain (for mask and hash).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_contains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_excludes: Vec<String>,
}

/// The form of a detector's reversible tokens.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenDoc {
    /// Capitals, digits and `_`, starting with a capital, at most 24 bytes.
    pub prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DecisionDoc {
    Allow,
    Monitor,
    Tokenize,
    Hash,
    Mask,
    Block,
}
