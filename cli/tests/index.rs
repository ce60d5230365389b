//! `airlock index documents` and `airlock index records` as a user runs them.

use airlock_filter::protected::documents::FindScratch;
use airlock_filter::protected::records::FindScratch as RecordScratch;
use airlock_filter::protected::{DocumentIndex, RecordIndex};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn airlock(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("airlock runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `text` to `path` below `dir`, creating its folders.
fn put(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// Runs `airlock args` in `dir`, checks that it succeeds, and returns what it printed.
fn succeeded(args: &[&str], dir: &Path) -> String {
    let out = airlock(args, dir);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}: {stdout}\n{}",
        text(&out.stderr)
    );
    stdout
}

/// `airlock index documents --out OUT EXTRA... src` in `dir`: the index and what it printed.
fn index_src(dir: &Path, out: &str, extra: &[&str]) -> (DocumentIndex, String) {
    let mut args = vec!["index", "documents", "--out", out];
    args.extend_from_slice(extra);
    args.push("src");
    let stdout = succeeded(&args, dir);
    let bytes = std::fs::read(dir.join(out)).unwrap();
    (DocumentIndex::from_bytes(&bytes).unwrap(), stdout)
}

/// Lines `skip..skip + take` of `text`.
fn lines(text: &str, skip: usize, take: usize) -> String {
    text.lines()
        .skip(skip)
        .take(take)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `airlock args` in `dir` and checks that it fails (exit 2) saying `needle`.
fn refused(args: &[&str], dir: &Path, needle: &str) {
    let out = airlock(args, dir);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{needle}: {stderr}");
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("airlock-index-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A made-up internal module: pseudo-random but deterministic, long enough to protect.
fn module(seed: u64, lines: usize) -> String {
    let mut x = seed;
    let mut out = String::from("// Copyright Example Corp. Internal use only.\n");
    for i in 0..lines {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let op = ["+", "-", "*", "^"][(x % 4) as usize];
        out.push_str(&format!(
            "    let rate{i} = ledger{}.settle(acct{} {op} {}, \"tier-{}\");\n",
            x % 89,
            x % 17,
            x % 10_000,
            x % 53
        ));
    }
    out
}

const DESIGN: &str = "# Settlement design\n\nThe settlement engine batches ledger entries per tier and closes each batch \
when the cumulative exposure of the tier crosses its nightly limit, which the risk desk sets per counterparty. \
Batches that close early are replayed against the shadow ledger before noon, and any drift above four basis \
points pages the on-call treasurer. Counterparties on the watch list settle gross, never net, until the \
quarterly review clears them; the review reads the drift log, not the batch totals.\n";

fn tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("src/nested")).unwrap();
    std::fs::create_dir_all(dir.join("src/target")).unwrap();
    std::fs::write(dir.join("src/pricing.rs"), module(11, 120)).unwrap();
    std::fs::write(
        dir.join("src/nested/ledger.py"),
        module(12, 80).replace("let ", ""),
    )
    .unwrap();
    std::fs::write(dir.join("src/design.md"), DESIGN).unwrap();
    std::fs::write(
        dir.join("src/logo.png"),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    )
    .unwrap();
    std::fs::write(dir.join("src/latin1.txt"), b"caf\xe9 cr\xe8me\n").unwrap();
    std::fs::write(dir.join("src/empty.txt"), b"").unwrap();
    std::fs::write(dir.join("src/target/generated.rs"), module(13, 50)).unwrap();
}

#[test]
fn documents_index_finds_a_pasted_fragment_and_reports_what_it_skipped() {
    let dir = tempdir("docs");
    tree(&dir);
    let out = airlock(
        &[
            "index",
            "documents",
            "--out",
            "docs.idx",
            "--exclude",
            "target",
            "src",
        ],
        &dir,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("3 documents (2 as code, 1 as prose)"),
        "{stdout}"
    );
    for reason in [
        "1 binary (NUL bytes)",
        "1 not UTF-8",
        "1 empty",
        "1 excluded",
    ] {
        assert!(stdout.contains(reason), "{reason}: {stdout}");
    }
    assert!(stdout.contains("document 2: src/pricing.rs"), "{stdout}");
    let bytes = std::fs::read(dir.join("docs.idx")).unwrap();
    assert!(
        !bytes.windows(6).any(|w| w == b"ledger"),
        "the index holds no text"
    );
    assert!(
        !bytes.windows(7).any(|w| w == b"pricing"),
        "no names without --names"
    );
    let index = DocumentIndex::from_bytes(&bytes).unwrap();
    assert_eq!(index.documents(), 3);

    let source = module(11, 120);
    let fragment: String = source
        .lines()
        .skip(30)
        .take(12)
        .collect::<Vec<_>>()
        .join("\r\n");
    let prompt = format!("Can you make this faster?\n```\n{fragment}\n```\n");
    let found = index.find(prompt.as_bytes(), 200, &mut FindScratch::default());
    assert_eq!(found.first().map(|m| m.document), Some(2), "{found:?}");
    let prose: String = DESIGN
        .split_whitespace()
        .skip(12)
        .take(50)
        .collect::<Vec<_>>()
        .join("\n  ");
    let found = index.find(
        prose.to_uppercase().as_bytes(),
        200,
        &mut FindScratch::default(),
    );
    assert_eq!(found.first().map(|m| m.document), Some(0), "{found:?}");
    let unrelated = "Please summarise the attached meeting notes and list the action items per owner, with due dates where given, and flag every item that has no owner yet so that we can assign it on Monday.";
    assert!(index
        .find(unrelated.as_bytes(), 200, &mut FindScratch::default())
        .is_empty());
}

#[test]
fn documents_names_and_background() {
    let dir = tempdir("names");
    tree(&dir);
    put(&dir, "public/vendored.rs", &module(11, 120));
    let stdout = succeeded(
        &[
            "index",
            "documents",
            "--out",
            "named.idx",
            "--names",
            "--background",
            "public",
            "src/pricing.rs",
        ],
        &dir,
    );
    assert!(stdout.contains("document paths stored"), "{stdout}");
    let index = DocumentIndex::from_bytes(&std::fs::read(dir.join("named.idx")).unwrap()).unwrap();
    assert_eq!(index.name(0), Some("pricing.rs"));
    // Everything of the one document is also in the background: nothing is protected.
    assert_eq!(index.entries(), 0, "{stdout}");
}

#[test]
fn documents_errors_are_clear() {
    let dir = tempdir("docerr");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("bin/a.bin"), b"\x00\x01").unwrap();
    let out = airlock(&["index", "documents", "--out", "x.idx", "bin"], &dir);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no text file to index") && stderr.contains("1 binary"),
        "{stderr}"
    );
    assert!(!dir.join("x.idx").exists());
    refused(
        &["index", "documents", "--out", "x.idx", "missing"],
        &dir,
        "missing",
    );
    let out = airlock(
        &[
            "index",
            "documents",
            "--out",
            "x.idx",
            "--exclude",
            "[",
            "bin",
        ],
        &dir,
    );
    assert!(
        text(&out.stderr).contains("--exclude"),
        "{}",
        text(&out.stderr)
    );
}

/// `module` under other names: what another project with the same shapes would hold.
fn renamed_module(seed: u64, lines: usize, to: &str) -> String {
    module(seed, lines)
        .replace("rate", &format!("{to}_r"))
        .replace("ledger", &format!("{to}_l"))
        .replace("acct", &format!("{to}_a"))
        .replace("settle", &format!("{to}_s"))
}

#[test]
fn public_shapes_are_collected_and_found_only_as_written() {
    let dir = tempdir("shapes");
    let projects = ["alpha", "beta", "gamma"];
    for to in projects {
        put(&dir, &format!("{to}/lib.rs"), &renamed_module(21, 100, to));
    }
    put(&dir, "src/secret.rs", &module(21, 100));
    let mut args = vec!["index", "shapes", "--out", "shapes.tbl"];
    args.extend(projects);
    let stdout = succeeded(&args, &dir);
    assert!(
        stdout.contains("shared by at least 3 of 3 projects"),
        "{stdout}"
    );
    let (marked, stdout) = index_src(&dir, "marked.idx", &["--public-shapes", "shapes.tbl"]);
    assert!(stdout.contains("have a public shape"), "{stdout}");
    let (plain, stdout) = index_src(&dir, "plain.idx", &["--no-public-shapes"]);
    assert!(stdout.contains("no public-shapes table"), "{stdout}");
    let (_, stdout) = index_src(&dir, "default.idx", &[]);
    assert!(
        stdout.contains("shapes known"),
        "the built-in table: {stdout}"
    );

    let copy = lines(&module(21, 100), 20, 12);
    let renamed = lines(&renamed_module(21, 100, "delta"), 20, 12);
    let mut scratch = FindScratch::default();
    assert!(!marked.find(copy.as_bytes(), 200, &mut scratch).is_empty());
    assert!(marked
        .find(renamed.as_bytes(), 200, &mut scratch)
        .is_empty());
    assert!(!plain.find(renamed.as_bytes(), 200, &mut scratch).is_empty());

    refused(
        &[
            "index",
            "shapes",
            "--out",
            "x.tbl",
            "--min-projects",
            "1",
            "alpha",
        ],
        &dir,
        "--min-projects",
    );
    refused(
        &[
            "index",
            "documents",
            "--out",
            "x.idx",
            "--public-shapes",
            "src/secret.rs",
            "src",
        ],
        &dir,
        "not a public-shapes table",
    );
    assert!(!dir.join("x.idx").exists() && !dir.join("x.tbl").exists());
}

#[test]
fn a_reference_tree_is_public_text_by_itself() {
    // `std` holds the module as written (a standard library the secret file copied from);
    // `alpha` holds an unrelated module. One tree is enough for a reference, not for a project.
    let dir = tempdir("reference");
    put(&dir, "std/vec.rs", &module(33, 100));
    put(&dir, "alpha/lib.rs", &module(7, 100));
    put(&dir, "src/secret.rs", &module(33, 100));
    let stdout = succeeded(
        &[
            "index",
            "shapes",
            "--out",
            "ref.tbl",
            "--min-projects",
            "2",
            "--reference",
            "std",
            "alpha",
        ],
        &dir,
    );
    assert!(
        stdout.contains("or in one of 1 reference trees"),
        "{stdout}"
    );
    let (index, stdout) = index_src(&dir, "ref.idx", &["--public-shapes", "ref.tbl"]);
    assert!(stdout.contains("text public projects share"), "{stdout}");
    let copy = lines(&module(33, 100), 20, 12);
    let mut scratch = FindScratch::default();
    assert!(index.find(copy.as_bytes(), 200, &mut scratch).is_empty());
    // Without the table, the copy is protected.
    let (index, _) = index_src(&dir, "plain.idx", &["--no-public-shapes"]);
    assert!(!index.find(copy.as_bytes(), 200, &mut scratch).is_empty());
}

const CUSTOMERS: &str = "\
id,name,email,phone,account
1,Anna Novak,anna.novak@example.com,+1 555 010 2345,AC-0042-7731
2,Bruno Silva,b.silva@example.org,555-010-9999,AC-0099-1234
3,Anna Novak,anna.novak@example.com,+1 555 010 2345,AC-0042-7731
4,Chen Wei,chen.wei@example.net,(555) 010-4444,AC-0100-0001
";

#[test]
fn records_index_matches_two_fields_of_one_row_only() {
    let dir = tempdir("records");
    std::fs::write(dir.join("customers.csv"), CUSTOMERS).unwrap();
    let out = airlock(
        &[
            "index",
            "records",
            "--out",
            "c.idx",
            "--columns",
            "name,email,phone,account",
            "--unique",
            "account",
            "customers.csv",
        ],
        &dir,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("3 rows x 4 columns") && stdout.contains("1 duplicate rows"),
        "{stdout}"
    );
    let bytes = std::fs::read(dir.join("c.idx")).unwrap();
    assert!(
        !bytes.windows(5).any(|w| w == b"Novak" || w == b"novak"),
        "no plaintext"
    );
    let index = RecordIndex::from_bytes(&bytes).unwrap();
    let mut scratch = RecordScratch::default();
    let same_row = "Refund for ANNA NOVAK, reach her at 1-555-010-2345.";
    let found = index.find(same_row.as_bytes(), 2, &mut scratch);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].row, 0);
    let two_rows = "Anna Novak and b.silva@example.org are on the call.";
    assert!(index.find(two_rows.as_bytes(), 2, &mut scratch).is_empty());
    let unique = "Account ac-0100-0001 is overdue.";
    assert_eq!(
        index
            .find(unique.as_bytes(), 2, &mut scratch)
            .first()
            .map(|m| m.row),
        Some(2)
    );
}

#[test]
fn records_from_json_lines() {
    let dir = tempdir("jsonl");
    let rows = "{\"name\":\"Dana Roe\",\"email\":\"dana@example.com\",\"age\":41}\n\n{\"name\":\"Eli Moss\",\"email\":null}\n";
    std::fs::write(dir.join("hr.jsonl"), rows).unwrap();
    let out = airlock(
        &[
            "index",
            "records",
            "--out",
            "hr.idx",
            "--columns",
            "name,email",
            "hr.jsonl",
        ],
        &dir,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("2 rows x 2 columns") && stdout.contains("1 empty cells"),
        "{stdout}"
    );
    let index = RecordIndex::from_bytes(&std::fs::read(dir.join("hr.idx")).unwrap()).unwrap();
    let found = index.find(
        b"dana roe <DANA@example.com>",
        2,
        &mut RecordScratch::default(),
    );
    assert_eq!(found.len(), 1);
}

#[test]
fn records_errors_are_clear() {
    let dir = tempdir("recerr");
    std::fs::write(dir.join("c.csv"), CUSTOMERS).unwrap();
    std::fs::write(dir.join("bad.csv"), "a,b\n1,2\n3\n").unwrap();
    std::fs::write(dir.join("header.csv"), "a,b\n").unwrap();
    std::fs::write(dir.join("empty.csv"), "").unwrap();
    std::fs::write(dir.join("bad.jsonl"), "{\"a\":1}\n[1]\n").unwrap();
    std::fs::write(dir.join("t.xlsx"), "x").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--columns", "name,mail", "c.csv"], "no column \"mail\""),
        (
            &["--columns", "name", "--unique", "account", "c.csv"],
            "--unique \"account\"",
        ),
        (&["--columns", "name,name", "c.csv"], "named twice"),
        (
            &["--columns", "a", "bad.csv"],
            "line 3: 1 fields where the header has 2",
        ),
        (&["--columns", "a", "header.csv"], "no data rows"),
        (&["--columns", "a", "empty.csv"], "empty input"),
        (
            &["--columns", "a", "bad.jsonl"],
            "line 2: not a JSON object",
        ),
        (&["--columns", "b", "bad.jsonl"], "line 2"),
        (&["--columns", "a", "t.xlsx"], ".csv"),
        (&["--columns", "a", "nothere.csv"], "nothere.csv"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["index", "records", "--out", "x.idx"];
        all.extend_from_slice(args);
        let out = airlock(&all, &dir);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in {stderr}"
        );
        assert!(!dir.join("x.idx").exists(), "{args:?} wrote a file");
    }
}
