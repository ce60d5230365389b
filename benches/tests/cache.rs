//! The inspection cache changes nothing but the work: on generated conversations (seeded,
//! every turn re-sending the history), a cached inspection gives the uncached one's verdict
//! finding for finding and its rewritten body byte for byte; a credential cut across a cached
//! and a new field is still found; a policy change, another caller or a small budget never
//! serves a stale or foreign result. The same holds with a request resumed after the items it
//! shares with its caller's previous one (`cache/resume.rs`), which only skips fields the cache
//! would have served: resumed conversations, edited ones (a byte changed before or after an
//! item end, items dropped), another caller's, and cut credentials across the resume point.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use airlock_benches::conversation::{self, Plan, Shape, Turn};
use airlock_benches::corpus::Rng;
use airlock_benches::policies;
use airlock_filter::engine::Via;
use airlock_filter::response::model;
use airlock_filter::{Policy, Request, Scratch, Verdict};

fn request<'a>(shape: Shape, body: &'a [u8], caller: Option<&'a [u8]>) -> Request<'a> {
    shape.request(body, caller)
}

/// Everything a verdict says, but how the cache served it.
fn same(cached: &Verdict, uncached: &Verdict, what: &str) {
    assert_eq!(cached.findings, uncached.findings, "{what}: findings");
    assert_eq!(cached.body, uncached.body, "{what}: rewritten body");
    assert_eq!(
        (cached.decision, cached.planned, cached.tier),
        (uncached.decision, uncached.planned, uncached.tier),
        "{what}: decision"
    );
    assert_eq!(cached.uninspectable, uncached.uninspectable, "{what}");
    assert_eq!(cached.limits, uncached.limits, "{what}: limits");
    // The restore map (its `Debug` shows counts only): tokens minted alike, in the same order.
    assert!(
        cached.tokens == uncached.tokens,
        "{what}: tokens {:?}",
        cached.tokens
    );
}

/// Small sessions (a debug build runs this): 10 turns of about 3 KiB, a credential cut
/// across turns `split_at` and `split_at + 1`.
fn plans(seed: u64) -> Vec<Plan> {
    let mut rng = Rng::new(seed);
    Shape::ALL
        .into_iter()
        .flat_map(|shape| {
            let agent = Plan {
                turns: 10,
                turn_bytes: 3 << 10,
                split_at: Some(rng.range(2, 7)),
                ..Plan::agent(shape, seed)
            };
            let chat = Plan {
                turns: 12,
                split_at: Some(rng.range(2, 9)),
                ..Plan::chat(shape, seed)
            };
            [agent, chat]
        })
        .collect()
}

fn inspect(
    policy: &Policy,
    scratch: &mut Scratch,
    shape: Shape,
    turn: &Turn,
    caller: Option<&[u8]>,
) -> Verdict {
    policy.inspect(&request(shape, &turn.body, caller), scratch)
}

#[test]
fn cached_and_uncached_inspection_agree_on_generated_conversations() {
    let policy = policies::default_policy();
    let (mut rewritten, mut spliced, mut by_span) = (0, 0, 0);
    for seed in 1..=2 {
        for plan in plans(seed) {
            let turns = conversation::session(&plan);
            let mut cached = policy.scratch();
            let mut unresumed = policy.scratch();
            unresumed.set_cache_resume(false);
            let mut uncached = policy.scratch();
            let mut seen = 0; // fields of the previous request, each a hit now
            let mut resumed = 0;
            for (t, turn) in turns.iter().enumerate() {
                let what = format!(
                    "{} seed {seed} chat={} turn {t}",
                    plan.shape.name(),
                    plan.chat
                );
                let c = inspect(&policy, &mut cached, plan.shape, turn, Some(b"alice"));
                let p = inspect(&policy, &mut unresumed, plan.shape, turn, Some(b"alice"));
                let u = inspect(&policy, &mut uncached, plan.shape, turn, None);
                same(&c, &u, &what);
                same(&p, &u, &format!("{what}, not resumed"));
                // The requested model read from the resumed inspection's outline of the body
                // is the one a parse of the whole body reads.
                let (_, path) = plan.shape.host_path();
                let outline = cached.body_outline(&turn.body);
                assert!(outline.is_some(), "{what}: the body's outline");
                assert_eq!(
                    model::requested_in(path, &turn.body, outline),
                    model::requested(path, &turn.body),
                    "{what}: model"
                );
                assert_eq!(u.cache, Default::default(), "{what}: no caller, no cache");
                // Every field of the previous request is served from the cache.
                assert!(p.cache.hits >= seen, "{what}: {:?} after {seen}", p.cache);
                assert!(t == 0 || p.cache.hits > 0, "{what}");
                assert_eq!(p.cache.resumed_items, 0, "{what}");
                seen = p.cache.hits + p.cache.misses;
                // Resuming skips fields the cache would have served, and only those.
                assert_eq!(
                    (c.cache.misses, c.cache.window_misses),
                    (p.cache.misses, p.cache.window_misses),
                    "{what}: {:?} against {:?}",
                    c.cache,
                    p.cache
                );
                assert!(c.cache.hits <= p.cache.hits, "{what}");
                assert!(t == 0 || c.cache.resumed_items > 0, "{what}: {:?}", c.cache);
                resumed += c.cache.resumed_items;
                rewritten += usize::from(c.body.is_some());
                spliced += p.cache.spliced;
                by_span += c.cache.replayed_by_span;
                if plan.split_at.map(|s| s + 1) == Some(t) {
                    // The head of the credential is in a cached field, its tail in a new one.
                    assert!(
                        c.findings.iter().any(|f| f.via == Via::Joined),
                        "{what}: the cut credential"
                    );
                }
            }
            let stats = cached.cache_stats();
            assert!(
                stats.bytes <= stats.budget && stats.entries > 0,
                "{stats:?}"
            );
            assert!(
                stats.snapshots == 1 && stats.snapshot_bytes > 0,
                "{stats:?}"
            );
            assert!(resumed as usize >= turns.len(), "{resumed}");
        }
    }
    assert!(
        rewritten > 0,
        "no turn was masked: the byte-for-byte check saw nothing"
    );
    assert!(
        spliced > 0,
        "no cached string had its masks spliced as written"
    );
    assert!(
        by_span > 0,
        "no resumed string minted its tokens from its replacements' spans alone"
    );
}

/// The default policy without its email detectors: it finds less in the same text.
fn without_email() -> Policy {
    let mut doc = policies::with_max_body(policies::default_value(), policies::BENCH_MAX_BODY);
    let detectors = doc["detectors"].as_array_mut().unwrap();
    let before = detectors.len();
    detectors.retain(|d| !d["id"].as_str().unwrap_or("").contains("email"));
    assert!(detectors.len() < before);
    policies::compile(doc).unwrap()
}

/// The default policy under another fingerprint key.
fn other_key() -> Policy {
    use airlock_filter::policy::{self, Environment, Origins};
    let doc = policies::with_max_body(policies::default_value(), policies::BENCH_MAX_BODY);
    let origins = Origins::single("test");
    let parsed = policy::parse_document(doc, &origins).unwrap();
    let env = Environment {
        var: &|name| {
            (name == "AIRLOCK_HASH_KEY").then(|| "another-key-for-the-cache-test-0123".to_string())
        },
        defer_regexes: true,
    };
    policy::compile(parsed, origins, &env).unwrap()
}

#[test]
fn a_policy_change_empties_the_cache() {
    let a = policies::default_policy();
    let b = without_email();
    let c = other_key();
    let plan = Plan {
        turns: 6,
        turn_bytes: 4 << 10,
        ..Plan::agent(Shape::OpenAiChat, 9)
    };
    let turns = conversation::session(&plan);
    let mut scratch = a.scratch();
    for turn in &turns[..5] {
        inspect(&a, &mut scratch, plan.shape, turn, Some(b"alice"));
    }
    let last = &turns[5];
    let mut differs = false;
    for (n, policy) in [&b, &c, &a].into_iter().enumerate() {
        scratch = scratch.rebind(policy);
        let cached = inspect(policy, &mut scratch, plan.shape, last, Some(b"alice"));
        let uncached = inspect(policy, &mut policy.scratch(), plan.shape, last, None);
        same(&cached, &uncached, &format!("policy {n}"));
        assert_eq!(
            (cached.cache.hits, cached.cache.resumed_items),
            (0, 0),
            "policy {n}: a change empties the cache and its snapshots"
        );
        assert_eq!(scratch.cache_stats().invalidations, n as u64 + 1);
        let again = inspect(policy, &mut scratch, plan.shape, last, Some(b"alice"));
        same(&again, &uncached, &format!("policy {n}, again"));
        assert_eq!(again.cache.misses, 0);
        assert!(again.cache.resumed_items > 0, "{:?}", again.cache);
        let under_a = inspect(&a, &mut a.scratch(), plan.shape, last, None);
        differs |= under_a.findings != uncached.findings;
    }
    assert!(
        differs,
        "the policies find the same: the test would not see a stale entry"
    );
}

#[test]
fn one_callers_history_never_serves_another() {
    let policy = policies::default_policy();
    let turns = conversation::session(&Plan {
        turns: 3,
        turn_bytes: 2 << 10,
        ..Plan::agent(Shape::Anthropic, 4)
    });
    let mut scratch = policy.scratch();
    let body = &turns[2];
    let alice = inspect(
        &policy,
        &mut scratch,
        Shape::Anthropic,
        body,
        Some(b"Bearer alice"),
    );
    assert_eq!(alice.cache.hits, 0);
    let bob = inspect(
        &policy,
        &mut scratch,
        Shape::Anthropic,
        body,
        Some(b"Bearer bob"),
    );
    assert_eq!(
        bob.cache, alice.cache,
        "bob is served nothing alice's requests left"
    );
    let alice_again = inspect(
        &policy,
        &mut scratch,
        Shape::Anthropic,
        body,
        Some(b"Bearer alice"),
    );
    assert_eq!(bob.cache.resumed_items, 0);
    assert_eq!(alice_again.cache.misses, 0);
    assert!(
        alice_again.cache.resumed_items > 0,
        "{:?}",
        alice_again.cache
    );
    same(&alice_again, &bob, "partitions");
}

#[test]
fn a_small_budget_evicts_and_stays_within_it() {
    let policy = policies::default_policy();
    let plan = Plan {
        turns: 8,
        turn_bytes: 2 << 10,
        split_at: Some(3),
        ..Plan::agent(Shape::OpenAiResponses, 5)
    };
    let turns = conversation::session(&plan);
    let mut small = policy.scratch();
    small.set_cache_budget(2 << 10);
    let mut evictions = 0;
    for (t, turn) in turns.iter().enumerate() {
        let c = inspect(&policy, &mut small, plan.shape, turn, Some(b"alice"));
        let u = inspect(&policy, &mut policy.scratch(), plan.shape, turn, None);
        same(&c, &u, &format!("turn {t}"));
        evictions += c.cache.evictions;
        let stats = small.cache_stats();
        assert!(stats.bytes <= 2 << 10, "{stats:?}");
    }
    assert!(evictions > 0);
    assert_eq!(u64::from(evictions), small.cache_stats().evictions);
    small.set_cache_budget(0);
    assert_eq!(small.cache_stats().entries, 0);
    let off = inspect(&policy, &mut small, plan.shape, &turns[7], Some(b"alice"));
    assert_eq!(
        off.cache,
        Default::default(),
        "a budget of 0 turns the cache off"
    );
}

/// Masks are spliced into a cached JSON string as written only when its escapes are the ones
/// a rewrite writes back; every other escape (`\/`, `\u00e9`, upper-case hex, a surrogate
/// pair, `\b`, an escaped `@` inside the finding) takes the whole-string rewrite, and so
/// does a short string. Either way
/// the cached body is the uncached one byte for byte, on the first request and on the next.
#[test]
fn masks_spliced_into_strings_as_written_give_the_uncached_body() {
    let policy = policies::default_policy();
    let escapes = [
        r#"line one\nwrite to jane.roe@corp-mail.net\t\"today\" \\ ok"#,
        r#"ctl \u001f and \r\n then mail jane.roe@corp-mail.net."#,
        r#"path a\/b then jane.roe@corp-mail.net"#,
        r#"caf\u00e9 jane.roe@corp-mail.net \ud83d\ude00 done"#,
        r#"upper \u001F jane.roe@corp-mail.net"#,
        r#"bell \b jane.roe@corp-mail.net"#,
        r#"escaped at jane.roe\u0040corp-mail.net here"#,
        r#"é plain utf-8 then jane.roe@corp-mail.net and é"#,
        r#"two: jane.roe@corp-mail.net, \"x\" and john_doe@corp-mail.net\n"#,
    ];
    let (mut spliced, mut whole) = (0, 0);
    for (n, case) in escapes.iter().enumerate() {
        // Long enough to be spliced (`walk::splice::MIN_SPLICED_BYTES`).
        let content = format!("{} {case}", "plain words of a longer message, ".repeat(10));
        let body = format!(
            r#"{{"model":"gpt-4.1","messages":[{{"role":"user","content":"{content}"}},{{"role":"user","content":[{{"type":"text","text":"{content}"}}]}}]}}"#
        );
        let turn = Turn {
            body: body.into_bytes(),
            fresh: Vec::new(),
        };
        // Splicing is what a request not resumed does with the cached strings; resumed, the
        // same replacements come from the snapshot (or the replays).
        let mut scratch = policy.scratch();
        scratch.set_cache_resume(false);
        let mut resuming = policy.scratch();
        let uncached = inspect(
            &policy,
            &mut policy.scratch(),
            Shape::OpenAiChat,
            &turn,
            None,
        );
        assert!(uncached.body.is_some(), "case {n}: nothing was masked");
        for round in 0..2 {
            let resumed = inspect(&policy, &mut resuming, Shape::OpenAiChat, &turn, Some(b"a"));
            same(
                &resumed,
                &uncached,
                &format!("case {n}, round {round}, resumed"),
            );
            assert_eq!(resumed.cache.resumed_items > 0, round == 1, "case {n}");
            let cached = inspect(&policy, &mut scratch, Shape::OpenAiChat, &turn, Some(b"a"));
            same(&cached, &uncached, &format!("case {n}, round {round}"));
            if round == 1 {
                assert!(cached.cache.hits > 0, "case {n}");
                if cached.cache.spliced > 0 {
                    spliced += 1;
                } else {
                    whole += 1;
                }
            }
        }
    }
    assert!(
        spliced >= 3,
        "canonical escapes were not spliced ({spliced})"
    );
    assert!(
        whole >= 4,
        "other escapes were spliced ({whole} rewritten whole)"
    );
    // A short string is escaped whole again, and still gives the uncached body.
    let short = Turn {
        body: br#"{"messages":[{"role":"user","content":"mail jane.roe@corp-mail.net
"}]}"#
            .to_vec(),
        fresh: Vec::new(),
    };
    let uncached = inspect(
        &policy,
        &mut policy.scratch(),
        Shape::OpenAiChat,
        &short,
        None,
    );
    assert!(uncached.body.is_some(), "the short string was not masked");
    let mut scratch = policy.scratch();
    for round in 0..2 {
        let cached = inspect(&policy, &mut scratch, Shape::OpenAiChat, &short, Some(b"a"));
        same(&cached, &uncached, &format!("short, round {round}"));
        assert_eq!(cached.cache.spliced, 0);
    }
}

/// A resumed request gives the uncached verdict whatever changed since the caller's previous
/// one: a byte changed before, at or after an item end (a letter in a string, or the JSON
/// broken), items dropped (an older turn re-sent), the same body again, another caller's
/// history. Each case starts from the cache the whole session filled up to the turn before.
#[test]
fn a_resumed_request_matches_the_uncached_one_whatever_changed() {
    let policy = policies::default_policy();
    let mut rng = Rng::new(17);
    let mut resumed_edits = 0;
    for shape in Shape::ALL {
        let plan = Plan {
            turns: 7,
            turn_bytes: 3 << 10,
            split_at: Some(3),
            ..Plan::agent(shape, 11)
        };
        let turns = conversation::session(&plan);
        let last = &turns[6].body;
        let mut cases: Vec<(String, Vec<u8>, &[u8])> = Vec::new();
        for n in 0..12 {
            // A letter inside the body changed (an old item, the new one, the fields after).
            let mut edited = last.clone();
            let at = loop {
                let at = rng.range(0, edited.len());
                if edited[at].is_ascii_alphabetic() {
                    break at;
                }
            };
            edited[at] = if edited[at] == b'x' { b'y' } else { b'x' };
            cases.push((format!("letter {n} at {at}"), edited, b"alice"));
        }
        let mut broken = last.clone();
        broken.truncate(last.len() - 3);
        cases.push(("the JSON cut short".into(), broken, b"alice"));
        cases.push(("an older turn".into(), turns[2].body.clone(), b"alice"));
        cases.push(("the same body".into(), turns[5].body.clone(), b"alice"));
        cases.push(("the next turn".into(), last.clone(), b"alice"));
        cases.push(("another caller".into(), last.clone(), b"bob"));
        for (what, body, caller) in &cases {
            let what = format!("{} {what}", shape.name());
            let mut scratch = policy.scratch();
            for turn in &turns[..6] {
                inspect(&policy, &mut scratch, shape, turn, Some(b"alice"));
            }
            let turn = Turn {
                body: body.clone(),
                fresh: Vec::new(),
            };
            let c = inspect(&policy, &mut scratch, shape, &turn, Some(caller));
            let u = inspect(&policy, &mut policy.scratch(), shape, &turn, None);
            same(&c, &u, &what);
            if *caller == b"bob" {
                assert_eq!(c.cache.resumed_items, 0, "{what}");
            }
            resumed_edits += usize::from(c.cache.resumed_items > 0);
            // And the request after it resumes from what this one left.
            let next = inspect(&policy, &mut scratch, shape, &turns[6], Some(b"alice"));
            let expected = inspect(&policy, &mut policy.scratch(), shape, &turns[6], None);
            same(&next, &expected, &format!("{what}, then the next turn"));
        }
    }
    assert!(
        resumed_edits > 20,
        "few edited requests resumed: {resumed_edits}"
    );
}

/// Rewrites a snapshot cannot hold as replacements (a short string rewritten whole, a nested
/// document rewritten, a long number masked, tokens minted) are done again on resuming: the
/// resumed request is the uncached one byte for byte, its restore map too, and it resumes past
/// every item.
#[test]
fn rewrites_of_resumed_items_are_replayed() {
    let policy = policies::default_policy();
    let items = [
        r#"{"role":"user","content":"mail jane.roe@corp-mail.net"}"#,
        r#"{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"send","arguments":"{\"to\":\"jane.roe@corp-mail.net\",\"body\":\"hi\"}"}}]}"#,
        r#"{"role":"tool","content":"card 4111111111111111 and {\"nested\": \"john_doe@corp-mail.net\"}"}"#,
        r#"{"role":"user","content":[{"type":"text","text":"a\u00e9 jane.roe@corp-mail.net"}],"id":4111111111111111}"#,
        r#"{"role":"user","content":"plain text"}"#,
    ];
    let body = |n: usize| {
        format!(
            r#"{{"messages":[{}],"model":"gpt-4.1","tools":[{{"type":"function","function":{{"name":"send","parameters":{{"required":["to","body"]}}}}}}]}}"#,
            items[..n].join(",")
        )
        .into_bytes()
    };
    let mut scratch = policy.scratch();
    for n in 1..=items.len() {
        let turn = Turn {
            body: body(n),
            fresh: Vec::new(),
        };
        let c = inspect(&policy, &mut scratch, Shape::OpenAiChat, &turn, Some(b"a"));
        let u = inspect(
            &policy,
            &mut policy.scratch(),
            Shape::OpenAiChat,
            &turn,
            None,
        );
        same(&c, &u, &format!("{n} items"));
        assert!(u.body.is_some(), "{n} items: nothing was rewritten");
        assert_eq!(
            c.cache.resumed_items as usize,
            n - 1,
            "{n} items: {:?}",
            c.cache
        );
    }
}

/// A snapshot belongs to one tier (the actions of its findings are the tier's): the same
/// conversation from the same caller to a host of another tier is not resumed, and is the
/// uncached verdict there.
#[test]
fn another_tier_does_not_resume() {
    let policy = policies::default_policy();
    let turns = conversation::session(&Plan {
        turns: 3,
        turn_bytes: 2 << 10,
        ..Plan::agent(Shape::OpenAiChat, 6)
    });
    let mut scratch = policy.scratch();
    let body = turns[2].body.as_slice();
    let to = |host: &'static str| Request {
        host,
        path: "/v1/chat/completions",
        content_type: Some("application/json"),
        content_encoding: None,
        body,
        caller: Some(b"alice"),
    };
    let vendor = policy.inspect(&to("api.openai.com"), &mut scratch);
    let relay = policy.inspect(&to("llm-relay.example.net"), &mut scratch);
    assert_ne!(
        vendor.tier, relay.tier,
        "the hosts share a tier: nothing tested"
    );
    assert_eq!(relay.cache.resumed_items, 0, "{:?}", relay.cache);
    let uncached = policy.inspect(
        &Request {
            caller: None,
            ..to("llm-relay.example.net")
        },
        &mut policy.scratch(),
    );
    same(&relay, &uncached, "another tier");
    let again = policy.inspect(&to("llm-relay.example.net"), &mut scratch);
    assert!(again.cache.resumed_items > 0, "{:?}", again.cache);
    same(&again, &uncached, "another tier, again");
}

/// The inspection's outline of the body is handed out for those bytes only: not for a copy at
/// another address, nor after a body that is not JSON, nor for one that parses only leniently.
#[test]
fn the_body_outline_belongs_to_the_last_inspected_body() {
    let policy = policies::default_policy();
    let mut scratch = policy.scratch();
    let path = "/v1/chat/completions";
    let body = br#"{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4.1"}"#.to_vec();
    let shape = Shape::OpenAiChat;
    policy.inspect(&request(shape, &body, Some(b"alice")), &mut scratch);
    let outline = scratch.body_outline(&body);
    assert!(outline.is_some());
    assert_eq!(
        model::requested_in(path, &body, outline).as_deref(),
        Some("gpt-4.1")
    );
    let copy = body.clone();
    assert!(scratch.body_outline(&copy).is_none(), "another buffer");
    assert!(
        scratch.body_outline(&body[..body.len() - 1]).is_none(),
        "another length"
    );
    let text = b"model: gpt-4.1".to_vec();
    policy.inspect(&request(shape, &text, None), &mut scratch);
    assert!(
        scratch.body_outline(&body).is_none(),
        "stale after a body not JSON"
    );
    assert!(scratch.body_outline(&text).is_none());
    // A trailing comma parses only under the tolerant grammar, which `requested` does not use.
    let lenient = br#"{"model":"gpt-4.1","messages":[],}"#.to_vec();
    policy.inspect(&request(shape, &lenient, None), &mut scratch);
    assert!(scratch.body_outline(&lenient).is_none(), "lenient parse");
    assert_eq!(
        model::requested_in(path, &lenient, scratch.body_outline(&lenient)),
        model::requested(path, &lenient)
    );
}
