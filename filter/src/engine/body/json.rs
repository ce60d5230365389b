//! A strict, allocation-light JSON scanner that records where every string is.
//!
//! The inspection engine needs three things serde_json does not give it: the
//! raw byte range of every string (so a mask rewrites exactly those bytes and
//! leaves the rest of the body byte-identical), a path to each string (for
//! findings and audit lines), and a hard nesting limit that turns hostile
//! input into an error instead of a stack overflow. Any syntax error makes the
//! caller fall back to scanning the body as text, so nothing is skipped.

use crate::engine::bytes::{find_json_special, utf8_runs};

/// Eight copies of one byte.
const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// The lanes of `x` whose byte is below `n`, as their high bits. A lane is set only if its
/// byte is below `n` or a lower lane's is (the borrow), so the lowest set lane is exact.
#[inline(always)]
fn lanes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

/// The lanes of `x` that hold `byte` (the lowest set lane exact, as in [`lanes_below`]).
#[inline(always)]
fn lanes_equal(x: u64, byte: u8) -> u64 {
    lanes_below(x ^ (ONES * u64::from(byte)), 1)
}

/// The little-endian word of the 8 bytes at `at` (`None` past the end).
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    bytes
        .get(at..)
        .and_then(<[u8]>::first_chunk::<8>)
        .map(|w| u64::from_le_bytes(*w))
}

/// Position of the first `"`, `\` or control byte, as `find_json_special` finds it, sixteen
/// bytes a step and the position taken from the lanes (the parser's inner loop: every byte of
/// every string of every request passes here).
fn find_string_special(bytes: &[u8]) -> Option<usize> {
    let special = |w: u64| lanes_equal(w, b'"') | lanes_equal(w, b'\\') | lanes_below(w, 0x20);
    let lane = |m: u64| (m.trailing_zeros() / 8) as usize;
    let mut at = 0;
    while let (Some(a), Some(b)) = (word_at(bytes, at), word_at(bytes, at + 8)) {
        let (ma, mb) = (special(a), special(b));
        if ma != 0 {
            return Some(at + lane(ma));
        }
        if mb != 0 {
            return Some(at + 8 + lane(mb));
        }
        at += 16;
    }
    find_json_special(bytes.get(at..).unwrap_or_default()).map(|p| at + p)
}
use crate::engine::span::Span;

use crate::engine::limits::MAX_JSON_DEPTH;

/// One step of a JSON path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStep {
    Root,
    /// Object member, with the raw (still escaped) key's span in the document.
    Key(Span),
    Index(u32),
}

/// A node in the path tree; strings point at the node of their position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathNode {
    pub parent: u32,
    pub step: PathStep,
}

/// A string in the document: an object key or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StringLeaf {
    /// Between the quotes, still escaped.
    pub raw: Span,
    /// The node naming this string's position (for a key: the member it names).
    pub node: u32,
    pub is_key: bool,
    pub has_escapes: bool,
    /// A number token (its digits are the raw span; a rewrite must quote it).
    pub is_number: bool,
}

impl StringLeaf {
    /// The leaf's text, unescaped into `scratch` when it has escapes (borrowed from `doc`
    /// otherwise, without a copy). Empty when the span lies outside `doc`.
    pub fn text<'a>(&self, doc: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
        string_text(doc, self.raw, self.has_escapes, scratch)
    }
}

/// The text of the JSON string whose unquoted bytes are `raw` in `doc`: unescaped into
/// `scratch` when it has escapes, borrowed from `doc` otherwise. Empty when `raw` lies outside.
pub fn string_text<'a>(
    doc: &'a [u8],
    raw: Span,
    has_escapes: bool,
    scratch: &'a mut Vec<u8>,
) -> &'a [u8] {
    let raw = doc.get(raw.range()).unwrap_or_default();
    if has_escapes {
        unescape(raw, scratch);
        scratch
    } else {
        raw
    }
}

/// Which JSON the parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grammar {
    /// RFC 8259.
    Strict,
    /// RFC 8259 plus what lenient upstream parsers accept: a leading BOM, `//` and `/* */`
    /// comments, other whitespace (vertical tab, form feed, NBSP, U+2028/9, U+FEFF),
    /// `NaN`, `Infinity`, `-Infinity`, a leading `+`, and trailing commas.
    Tolerant,
}

/// Shortest integer part of a number recorded as a leaf: shorter numbers (token ids, counts,
/// prices) hold no identifier, and scanning every one would cost a scan per array element.
const MIN_NUMBER_DIGITS: usize = 9;

/// Fewest elements of an array read as one run of pieces ([`ScalarRun`]): a key cut in two
/// (`"stop": ["AKIAR7UZ", "3WQ4…"]`) is a run.
const MIN_RUN_ELEMENTS: u32 = 2;
/// Fewest members of an object read as one: fewer would make every short message
/// (`{"role": "user", "content": "hi"}`) a run; a message with a `name` is one.
const MIN_RUN_MEMBERS: u32 = 3;
/// Longest string element (raw bytes) of such a run: pieces, not texts.
const MAX_PIECE_BYTES: usize = 24;

/// An array or object whose elements (values, for an object) are all short strings or
/// integers, at least [`MIN_RUN_ELEMENTS`] (or [`MIN_RUN_MEMBERS`]) of them: a value cut into pieces
/// (`["AKIA","R7UZ",…]`, `[65,75,73,65,…]`) that no single field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalarRun {
    /// From the opening bracket to the closing one.
    pub raw: Span,
    /// The container's node.
    pub node: u32,
    pub is_object: bool,
}

/// An object or array being read: where it opened, its node, how many members or elements
/// were read, and whether all of them were pieces of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    node: u32,
    start: usize,
    count: u32,
    pieces: bool,
}

/// The end of one item of a conversation: an object or array element of an array that is a
/// member of the root object (`$.messages[3]`), with the parser's state just past it. A later
/// document whose bytes up to [`Boundary::end`] are the same resumes the parse there
/// ([`Outline::resume`]): everything the parser decided before it read only those bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boundary {
    /// Just past the item's closing bracket.
    pub end: usize,
    /// The outline's nodes, strings and runs at that point.
    pub nodes: usize,
    pub strings: usize,
    pub runs: usize,
    root: Frame,
    array: Frame,
}

/// The strings of one document and the tree of their paths. Reused across requests.
#[derive(Debug, Default)]
pub struct Outline {
    pub nodes: Vec<PathNode>,
    pub strings: Vec<StringLeaf>,
    pub runs: Vec<ScalarRun>,
    /// The conversation items' ends, in order (strict grammar only).
    pub boundaries: Vec<Boundary>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxError {
    Invalid(usize),
    TooDeep(usize),
    TooLarge,
}

impl Outline {
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.strings.clear();
        self.runs.clear();
        self.boundaries.clear();
    }

    /// Parses `doc` as one JSON value (surrounding whitespace allowed) and records its strings.
    pub fn parse(&mut self, doc: &[u8]) -> Result<(), SyntaxError> {
        self.parse_with(doc, Grammar::Strict)
    }

    /// [`Outline::parse`]; a failure also tells whether [`Grammar::Tolerant`] fails on `doc` with
    /// the same error, without parsing it again: when a complete value is followed by bytes
    /// neither grammar skips (no `/` comment, no extra whitespace), as in several JSON
    /// documents written one after another. The strict value's bytes read the same in the
    /// tolerant grammar (its extras start with bytes a strict value holds only inside strings),
    /// so the tolerant parse would stop at the same byte.
    pub fn parse_strict(&mut self, doc: &[u8]) -> Result<(), (SyntaxError, bool)> {
        match self.parse_prefix(doc, Grammar::Strict) {
            Ok(end) if end == doc.len() => Ok(()),
            Ok(end) => {
                let rest = doc.get(end..).unwrap_or_default();
                let skipped =
                    rest.starts_with(b"/") || EXTRA_WHITESPACE.iter().any(|w| rest.starts_with(w));
                Err((SyntaxError::Invalid(end), !skipped))
            }
            Err(e) => Err((e, false)),
        }
    }

    /// Parses `doc` as one JSON value of `grammar` (nothing may follow it).
    pub fn parse_with(&mut self, doc: &[u8], grammar: Grammar) -> Result<(), SyntaxError> {
        let end = self.parse_prefix(doc, grammar)?;
        if end != doc.len() {
            return Err(SyntaxError::Invalid(end));
        }
        Ok(())
    }

    /// Parses the JSON value at the start of `doc` and the whitespace after it; returns where
    /// that ends (`doc.len()` if nothing follows), as a streaming decoder reads one document.
    pub fn parse_prefix(&mut self, doc: &[u8], grammar: Grammar) -> Result<usize, SyntaxError> {
        self.clear();
        if u32::try_from(doc.len()).is_err() {
            return Err(SyntaxError::TooLarge);
        }
        self.nodes.push(PathNode {
            parent: 0,
            step: PathStep::Root,
        });
        let tolerant = grammar == Grammar::Tolerant;
        let bom = tolerant && doc.starts_with(BOM);
        let mut parser = Parser {
            doc,
            pos: if bom { BOM.len() } else { 0 },
            outline: self,
            tolerant,
            root: None,
        };
        parser.skip_ws();
        parser.value(0, 0)?;
        parser.skip_ws();
        Ok(parser.pos)
    }

    /// Parses `doc` (strict grammar, nothing after the value) from `at`, a boundary of an
    /// earlier document whose bytes up to `at.end` are `doc`'s: the outline must hold that
    /// document's nodes, strings, runs and boundaries up to `at` (as [`Outline::truncate_to`]
    /// leaves them). The outline is then the one [`Outline::parse`] makes of `doc`.
    pub fn resume(&mut self, doc: &[u8], at: &Boundary) -> Result<(), SyntaxError> {
        if u32::try_from(doc.len()).is_err() {
            return Err(SyntaxError::TooLarge);
        }
        if doc.len() < at.end {
            return Err(SyntaxError::Invalid(doc.len()));
        }
        let mut parser = Parser {
            doc,
            pos: at.end,
            outline: self,
            tolerant: false,
            root: Some(at.root),
        };
        parser.items(at.array, 1, true)?;
        parser.members(at.root, 0, true)?;
        parser.skip_ws();
        if parser.pos != doc.len() {
            return Err(SyntaxError::Invalid(parser.pos));
        }
        Ok(())
    }

    /// Drops what follows boundary `at` (an index into `boundaries`), as a parse that stopped
    /// there would have left the outline.
    pub fn truncate_to(&mut self, at: usize) -> Option<Boundary> {
        let b = *self.boundaries.get(at)?;
        self.nodes.truncate(b.nodes);
        self.strings.truncate(b.strings);
        self.runs.truncate(b.runs);
        self.boundaries.truncate(at + 1);
        Some(b)
    }

    /// The raw (still escaped) name of the nearest object key at or above `node`.
    pub fn nearest_key<'d>(&self, doc: &'d [u8], node: u32) -> Option<&'d [u8]> {
        let mut current = node;
        for _ in 0..=MAX_JSON_DEPTH + 1 {
            let n = self.nodes.get(current as usize)?;
            match n.step {
                PathStep::Key(raw) => return doc.get(raw.range()),
                PathStep::Root => return None,
                PathStep::Index(_) => current = n.parent,
            }
        }
        None
    }

    /// The ancestor of `node` that is `depth` steps below the root (or `node` itself if it is shallower).
    pub fn ancestor_at_depth(&self, node: u32, depth: usize) -> u32 {
        let (chain, len) = self.chain(node);
        // chain[len - 1] is the root; chain[len - 1 - depth] is `depth` below it.
        len.checked_sub(1 + depth)
            .and_then(|i| chain.get(i))
            .copied()
            .unwrap_or(node)
    }

    /// `node` and its ancestors up to the root, node first; documents are at most MAX_JSON_DEPTH deep.
    fn chain(&self, node: u32) -> ([u32; MAX_JSON_DEPTH + 2], usize) {
        let mut chain = [0u32; MAX_JSON_DEPTH + 2];
        let mut len = 0usize;
        let mut current = node;
        while let Some(slot) = chain.get_mut(len) {
            *slot = current;
            len += 1;
            match self.nodes.get(current as usize) {
                Some(n) if !matches!(n.step, PathStep::Root) => current = n.parent,
                _ => break,
            }
        }
        (chain, len)
    }

    /// Appends the path of `node` below the root to `out`, as `.a[0]["b c"]`; `redacted` nodes render as `[*]`.
    pub fn render_path(
        &self,
        doc: &[u8],
        node: u32,
        redacted: &dyn Fn(u32) -> bool,
        out: &mut String,
    ) {
        let (chain, len) = self.chain(node);
        for &id in chain.iter().take(len).rev() {
            let Some(n) = self.nodes.get(id as usize) else {
                continue;
            };
            match n.step {
                PathStep::Root => {}
                PathStep::Index(i) => {
                    out.push('[');
                    out.push_str(itoa(i).as_str());
                    out.push(']');
                }
                PathStep::Key(raw) => {
                    let key = doc.get(raw.range()).unwrap_or_default();
                    push_key(key, redacted(id), out);
                }
            }
        }
    }
}

fn itoa(i: u32) -> String {
    i.to_string()
}

/// Keys that are plain identifiers render as `.key`; others as `["..."]` (raw JSON escapes kept).
fn push_key(raw_key: &[u8], redacted: bool, out: &mut String) {
    const MAX_KEY: usize = 64;
    if redacted {
        out.push_str("[*]");
        return;
    }
    let identifier = !raw_key.is_empty()
        && raw_key.len() <= MAX_KEY
        && raw_key
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
    if identifier {
        out.push('.');
        out.extend(raw_key.iter().map(|&b| char::from(b)));
    } else if raw_key.len() <= MAX_KEY && raw_key.iter().all(|b| (0x20..0x7f).contains(b)) {
        out.push_str("[\"");
        out.extend(raw_key.iter().map(|&b| char::from(b)));
        out.push_str("\"]");
    } else {
        out.push_str("[?]");
    }
}

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Whitespace beyond JSON's four that JSON5 and ECMAScript accept: vertical tab, form feed,
/// no-break space, line and paragraph separators, and the BOM.
const EXTRA_WHITESPACE: [&[u8]; 6] = [
    b"\x0B",
    b"\x0C",
    "\u{A0}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{2029}".as_bytes(),
    BOM,
];

struct Parser<'d, 'o> {
    doc: &'d [u8],
    pos: usize,
    outline: &'o mut Outline,
    tolerant: bool,
    /// The root object's frame, while its member is read (conversation boundaries need it).
    root: Option<Frame>,
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.doc.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        loop {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
                self.pos += 1;
            }
            if !self.tolerant || !self.skip_extra() {
                return;
            }
        }
    }

    /// Skips one comment or one non-JSON whitespace character; false if none is here.
    fn skip_extra(&mut self) -> bool {
        let rest = self.doc.get(self.pos..).unwrap_or_default();
        let skip = if rest.starts_with(b"//") {
            memchr::memchr(b'\n', rest).unwrap_or(rest.len())
        } else if rest.starts_with(b"/*") {
            match memchr::memmem::find(rest.get(2..).unwrap_or_default(), b"*/") {
                Some(at) => at + 4,
                // An unclosed comment is a syntax error, not the end of the document.
                None => return false,
            }
        } else {
            match EXTRA_WHITESPACE.iter().find(|w| rest.starts_with(w)) {
                Some(w) => w.len(),
                None => return false,
            }
        };
        self.pos += skip;
        true
    }

    fn fail<T>(&self) -> Result<T, SyntaxError> {
        Err(SyntaxError::Invalid(self.pos))
    }

    fn expect(&mut self, byte: u8) -> Result<(), SyntaxError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail()
        }
    }

    fn node(&mut self, parent: u32, step: PathStep) -> u32 {
        let id = u32::try_from(self.outline.nodes.len()).unwrap_or(u32::MAX);
        self.outline.nodes.push(PathNode { parent, step });
        id
    }

    fn value(&mut self, node: u32, depth: usize) -> Result<(), SyntaxError> {
        if depth > MAX_JSON_DEPTH {
            return Err(SyntaxError::TooDeep(self.pos));
        }
        match self.peek() {
            Some(b'{') => self.object(node, depth),
            Some(b'[') => self.array(node, depth),
            Some(b'"') => {
                let (raw, has_escapes) = self.string()?;
                self.outline.strings.push(StringLeaf {
                    raw,
                    node,
                    is_key: false,
                    has_escapes,
                    is_number: false,
                });
                Ok(())
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'N') if self.tolerant => self.literal(b"NaN"),
            Some(b'I') if self.tolerant => self.literal(b"Infinity"),
            Some(b'-' | b'+') if self.tolerant && self.doc.get(self.pos + 1) == Some(&b'I') => {
                self.pos += 1;
                self.literal(b"Infinity")
            }
            Some(b'-' | b'0'..=b'9') => self.number(node),
            Some(b'+') if self.tolerant => {
                self.pos += 1;
                self.number(node)
            }
            _ => self.fail(),
        }
    }

    /// Reads one element (`node`'s value) and tells whether it is a piece of a run: a short
    /// string or an integer.
    fn element(&mut self, node: u32, depth: usize) -> Result<bool, SyntaxError> {
        let start = self.pos;
        let first = self.peek();
        self.value(node, depth)?;
        let token = self.doc.get(start..self.pos).unwrap_or_default();
        Ok(match first {
            Some(b'"') => token.len() <= MAX_PIECE_BYTES + 2,
            Some(b'-' | b'0'..=b'9') => !token.iter().any(|b| matches!(b, b'.' | b'e' | b'E')),
            _ => false,
        })
    }

    /// Records the container opened at `start` as a run if all its `count` elements were pieces.
    fn close_run(&mut self, start: usize, node: u32, count: u32, pieces: bool, is_object: bool) {
        let fewest = if is_object {
            MIN_RUN_MEMBERS
        } else {
            MIN_RUN_ELEMENTS
        };
        if pieces && count >= fewest {
            self.outline.runs.push(ScalarRun {
                raw: Span::new(start, self.pos),
                node,
                is_object,
            });
        }
    }

    fn object(&mut self, node: u32, depth: usize) -> Result<(), SyntaxError> {
        let start = self.pos;
        if self.opens_empty(b'{', b'}')? {
            return Ok(());
        }
        let frame = Frame {
            node,
            start,
            count: 0,
            pieces: true,
        };
        self.members(frame, depth, false)
    }

    /// An object's members from `frame` on. `resumed`: its member `frame.count` was read
    /// already (an array: not a piece), and what follows it is next.
    fn members(
        &mut self,
        mut frame: Frame,
        depth: usize,
        resumed: bool,
    ) -> Result<(), SyntaxError> {
        let mut read = resumed;
        loop {
            if read {
                frame.pieces = false;
                read = false;
            } else {
                self.skip_ws();
                if self.peek() != Some(b'"') {
                    return self.fail();
                }
                let (raw, has_escapes) = self.string()?;
                let member = self.node(frame.node, PathStep::Key(raw));
                self.outline.strings.push(StringLeaf {
                    raw,
                    node: member,
                    is_key: true,
                    has_escapes,
                    is_number: false,
                });
                self.skip_ws();
                self.expect(b':')?;
                self.skip_ws();
                if depth == 0 {
                    self.root = Some(frame);
                }
                frame.pieces &= self.element(member, depth + 1)?;
            }
            frame.count = frame.count.saturating_add(1);
            if self.closes(b'}')? {
                self.close_run(frame.start, frame.node, frame.count, frame.pieces, true);
                return Ok(());
            }
        }
    }

    fn array(&mut self, node: u32, depth: usize) -> Result<(), SyntaxError> {
        let start = self.pos;
        if self.opens_empty(b'[', b']')? {
            return Ok(());
        }
        let frame = Frame {
            node,
            start,
            count: 0,
            pieces: true,
        };
        self.items(frame, depth, false)
    }

    /// An array's elements from `frame` on. `resumed`: its element `frame.count` was read
    /// already (an object or array: not a piece), and what follows it is next.
    fn items(&mut self, mut frame: Frame, depth: usize, resumed: bool) -> Result<(), SyntaxError> {
        let mut read = resumed;
        loop {
            if read {
                frame.pieces = false;
                read = false;
            } else {
                self.skip_ws();
                let element = self.node(frame.node, PathStep::Index(frame.count));
                let container = matches!(self.peek(), Some(b'{' | b'['));
                let before = frame;
                frame.pieces &= self.element(element, depth + 1)?;
                if container && depth == 1 && !self.tolerant {
                    self.mark_boundary(before);
                }
            }
            frame.count = frame.count.saturating_add(1);
            if self.closes(b']')? {
                self.close_run(frame.start, frame.node, frame.count, frame.pieces, false);
                return Ok(());
            }
        }
    }

    /// Records the end of a conversation item (`array`: its array's frame before it), if its
    /// array is a member of the root object.
    fn mark_boundary(&mut self, array: Frame) {
        let Some(root) = self.root else { return };
        let outline = &mut *self.outline;
        outline.boundaries.push(Boundary {
            end: self.pos,
            nodes: outline.nodes.len(),
            strings: outline.strings.len(),
            runs: outline.runs.len(),
            root,
            array,
        });
    }

    /// Reads the `open` byte of a container; true if `close` follows at once (it is empty).
    fn opens_empty(&mut self, open: u8, close: u8) -> Result<bool, SyntaxError> {
        self.expect(open)?;
        self.skip_ws();
        let empty = self.peek() == Some(close);
        if empty {
            self.pos += 1;
        }
        Ok(empty)
    }

    /// After a member or element: a `,` (false: another follows) or `close` (true: the
    /// container ends), past any whitespace; anything else is a syntax error.
    fn closes(&mut self, close: u8) -> Result<bool, SyntaxError> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => self.pos += 1,
            Some(b) if b == close => {
                self.pos += 1;
                return Ok(true);
            }
            _ => return self.fail(),
        }
        // A trailing comma (`[1, 2,]`), in the tolerant grammar.
        if self.tolerant {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Validates a string token; returns its raw inner range and whether it has escapes.
    fn string(&mut self) -> Result<(Span, bool), SyntaxError> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut has_escapes = false;
        loop {
            // Skip the common run of plain bytes quickly.
            let rest = self.doc.get(self.pos..).unwrap_or_default();
            let plain = find_string_special(rest).unwrap_or(rest.len());
            self.pos += plain;
            match self.peek() {
                Some(b'"') => {
                    let raw = Span::new(start, self.pos);
                    self.pos += 1;
                    return Ok((raw, has_escapes));
                }
                Some(b'\\') => {
                    has_escapes = true;
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            let hex = self.doc.get(self.pos..self.pos + 4).unwrap_or_default();
                            if hex.len() != 4 || !hex.iter().all(u8::is_ascii_hexdigit) {
                                return self.fail();
                            }
                            self.pos += 4;
                        }
                        _ => return self.fail(),
                    }
                }
                _ => return self.fail(),
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), SyntaxError> {
        if self.doc.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.fail()
        }
    }

    /// A number token; one with a long integer part is recorded as a leaf (the whole token).
    fn number(&mut self, node: u32) -> Result<(), SyntaxError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return self.fail(),
        }
        let long = self.pos - int_start >= MIN_NUMBER_DIGITS;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.fail();
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.fail();
            }
            self.digits();
        }
        if long {
            self.outline.strings.push(StringLeaf {
                raw: Span::new(start, self.pos),
                node,
                is_key: false,
                has_escapes: false,
                is_number: true,
            });
        }
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }
}

/// Decodes the escapes of a raw JSON string into `out` (cleared first).
/// Lone surrogates become U+FFFD. `raw` must have passed [`Outline::parse`];
/// malformed escapes are copied through rather than trusted.
pub fn unescape(raw: &[u8], out: &mut Vec<u8>) {
    unescape_runs(raw, out, true);
}

/// How many words of a plain run [`unescape`] copies eight bytes a step before it searches
/// for the run's end.
const WORDS_BEFORE_SEARCH: u32 = 4;

/// [`unescape`], copying plain runs eight bytes a step (`by_words`) or with one search per run
/// (the loop the tests check the other against).
#[inline(always)]
fn unescape_runs(raw: &[u8], out: &mut Vec<u8>, by_words: bool) {
    out.clear();
    out.reserve(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b != b'\\' {
            // Eight bytes a step: escapes are a few dozen bytes apart in code and logs, where
            // a search call per run cost more than the run. A run longer than a few words
            // (prose's paragraphs) is searched and copied whole from there (issue 16).
            let mut words = if by_words { WORDS_BEFORE_SEARCH } else { 0 };
            while let Some(w) = word_at(raw, i).filter(|_| words > 0) {
                let backslashes = lanes_equal(w, b'\\');
                if backslashes != 0 {
                    let plain = (backslashes.trailing_zeros() / 8) as usize;
                    out.extend_from_slice(raw.get(i..i + plain).unwrap_or_default());
                    i += plain;
                    break;
                }
                out.extend_from_slice(&w.to_le_bytes());
                i += 8;
                words -= 1;
            }
            if raw.get(i) != Some(&b'\\') {
                let run = raw.get(i..).unwrap_or_default();
                let plain = memchr::memchr(b'\\', run).unwrap_or(run.len());
                out.extend_from_slice(run.get(..plain).unwrap_or_default());
                i += plain;
            }
            continue;
        }
        let escaped = raw.get(i + 1).copied();
        i += 2;
        let simple = match escaped {
            Some(b'n') => Some(b'\n'),
            Some(b't') => Some(b'\t'),
            Some(b'r') => Some(b'\r'),
            Some(b'b') => Some(0x08),
            Some(b'f') => Some(0x0c),
            Some(b'/') => Some(b'/'),
            Some(b'\\') => Some(b'\\'),
            Some(b'"') => Some(b'"'),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            continue;
        }
        if escaped != Some(b'u') {
            out.push(b'\\');
            if let Some(e) = escaped {
                out.push(e);
            }
            continue;
        }
        let Some(unit) = hex4(raw.get(i..i + 4)) else {
            out.extend_from_slice(b"\\u");
            continue;
        };
        i += 4;
        let scalar = if (0xD800..0xDC00).contains(&unit) {
            let low = match (raw.get(i..i + 2), hex4(raw.get(i + 2..i + 6))) {
                (Some(b"\\u"), Some(low)) if (0xDC00..0xE000).contains(&low) => Some(low),
                _ => None,
            };
            match low {
                Some(low) => {
                    i += 6;
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                }
                None => 0xFFFD,
            }
        } else if (0xDC00..0xE000).contains(&unit) {
            0xFFFD
        } else {
            unit
        };
        let ch = char::from_u32(scalar).unwrap_or('\u{FFFD}');
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
}

/// Where each of `text_offsets` (ascending offsets into [`unescape`]'s output for `raw`) lies
/// in `raw`, appended to `out`; `false` if one falls inside the bytes of one escape (a `\u`
/// escape of a character of several bytes) or past the end. `raw` must have passed the parser.
/// Any escapes: the tests' reference for [`canonical_offsets`].
#[cfg(test)]
pub fn raw_offsets(raw: &[u8], text_offsets: &[usize], out: &mut Vec<usize>) -> bool {
    let (mut t, mut r) = (0usize, 0usize);
    for &target in text_offsets {
        loop {
            let rest = raw.get(r..).unwrap_or_default();
            let plain = memchr::memchr(b'\\', rest).unwrap_or(rest.len());
            if target <= t + plain {
                r += target - t;
                t = target;
                break;
            }
            t += plain;
            r += plain;
            // An escape: how many text bytes it yields, from how many raw bytes.
            let (yields, spans) = match rest.get(plain + 1) {
                Some(b'u') => {
                    let unit = hex4(raw.get(r + 2..r + 6));
                    let low = match raw.get(r + 6..r + 8) {
                        Some(b"\\u") => hex4(raw.get(r + 8..r + 12)),
                        _ => None,
                    };
                    match unit {
                        Some(0xD800..=0xDBFF)
                            if low.is_some_and(|l| (0xDC00..0xE000).contains(&l)) =>
                        {
                            (4, 12)
                        }
                        Some(0xD800..=0xDFFF) => (3, 6),
                        Some(u) => (char::from_u32(u).map_or(3, char::len_utf8), 6),
                        None => return false,
                    }
                }
                Some(_) => (1, 2),
                None => return false,
            };
            if target < t + yields && target > t {
                return false;
            }
            t += yields;
            r += spans;
        }
        out.push(r);
    }
    true
}

fn hex4(bytes: Option<&[u8]>) -> Option<u32> {
    let bytes = bytes?;
    if bytes.len() != 4 {
        return None;
    }
    let mut value = 0u32;
    for &b in bytes {
        let digit = char::from(b).to_digit(16)?;
        value = value * 16 + digit;
    }
    Some(value)
}

/// Whether `raw` (a JSON string's bytes between its quotes) is what [`escape_into`] writes
/// for its [`unescape`]d text, read off `raw` itself: valid UTF-8, no quote or control byte as
/// it is, and only the escapes `escape_into` writes (`\"`, `\\`, `\n`, `\r`, `\t`, and
/// `\u00xx` in lowercase for the other control bytes); the same answer as escaping the text
/// and comparing. With it, where each of `text_offsets` (ascending offsets into the unescaped
/// text) lies in `raw`, appended to `out` as [`raw_offsets`] gives them; `false` also if an
/// offset lies past the text's end. One read of `raw`: a rewrite splices its masks into the
/// bytes as written (`walk/splice.rs`) without escaping the whole text to compare, then
/// walking its escapes again (issue 16: a long field's rewrite).
pub fn canonical_offsets(raw: &[u8], text_offsets: &[usize], out: &mut Vec<usize>) -> bool {
    let lower_hex = |b: u8| matches!(b, b'0'..=b'9' | b'a'..=b'f');
    let mut targets = text_offsets.iter().copied().peekable();
    // Text and raw offsets of `rest`'s start: each canonical escape yields one text byte.
    let (mut t, mut r) = (0usize, 0usize);
    let mut rest = raw;
    loop {
        let plain = find_json_special(rest).unwrap_or(rest.len());
        while let Some(target) = targets.next_if(|&target| target <= t + plain) {
            out.push(r + target.saturating_sub(t));
        }
        let Some(tail) = rest.get(plain..).filter(|tail| !tail.is_empty()) else {
            break;
        };
        let len = match *tail {
            [b'\\', b'"' | b'\\' | b'n' | b'r' | b't', ..] => 2,
            // Tab, line feed and carriage return have their short escapes.
            [b'\\', b'u', b'0', b'0', b'0', b'9' | b'a' | b'd', ..] => return false,
            [b'\\', b'u', b'0', b'0', b'0' | b'1', lo, ..] if lower_hex(lo) => 6,
            _ => return false,
        };
        (t, r) = (t + plain + 1, r + plain + len);
        rest = tail.get(len..).unwrap_or_default();
    }
    // UTF-8 last: a string with other escapes (`\u4e2d`) is turned down before it is read whole.
    targets.peek().is_none() && std::str::from_utf8(raw).is_ok()
}

/// Appends `text` to `out` as the inside of a JSON string (no quotes).
/// Valid UTF-8 is kept as is; invalid bytes become U+FFFD so the output stays valid JSON.
pub fn escape_into(text: &[u8], out: &mut Vec<u8>) {
    out.reserve(text.len());
    for (valid, invalid) in utf8_runs(text) {
        // Copy the runs between escapes whole: most text has few quotes and line breaks.
        let mut rest = valid.as_bytes();
        while let Some(at) = find_json_special(rest) {
            let (run, tail) = rest.split_at(at);
            out.extend_from_slice(run);
            let Some((&b, after)) = tail.split_first() else {
                break;
            };
            push_escaped(b, out);
            rest = after;
        }
        out.extend_from_slice(rest);
        if !invalid.is_empty() {
            out.extend_from_slice("\u{FFFD}".as_bytes());
        }
    }
}

/// Appends the JSON escape of a quote, backslash or control byte.
fn push_escaped(b: u8, out: &mut Vec<u8>) {
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
            out.push(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
        }
    }
}

/// True when `text` (after leading whitespace) starts like a JSON object or array.
pub fn looks_like_json(text: &[u8]) -> bool {
    matches!(
        text.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where [`Outline::parse_strict`] says the tolerant grammar fails the same way, it does;
    /// the texts are valid values, tolerant extras and stray bytes run together.
    #[test]
    fn parse_strict_knows_when_the_tolerant_parse_fails_too() {
        let pieces = [
            "{\"a\":[1,\"x\"]}",
            "[1,2]",
            "\"s\"",
            "7",
            " ",
            "\n",
            "// c\n",
            "/* c */",
            "/",
            "\u{a0}",
            "\u{2028}",
            "\u{feff}",
            "\x0b",
            "NaN",
            "+1",
            "[1,]",
            "{",
            "}",
            ",",
            "tru",
        ];
        let mut rng = crate::engine::test_rng::TestRng::new(0x70_1e7a);
        let (mut known, mut tolerant_reads) = (0, 0);
        let (mut outline, mut tolerant) = (Outline::default(), Outline::default());
        for _ in 0..20_000 {
            let doc: String = (0..1 + rng.below(4)).map(|_| rng.pick(&pieces)).collect();
            let again = tolerant.parse_with(doc.as_bytes(), Grammar::Tolerant);
            match outline.parse_strict(doc.as_bytes()) {
                Ok(()) => assert_eq!(outline.parse(doc.as_bytes()), Ok(()), "{doc:?}"),
                Err((e, true)) => {
                    known += 1;
                    assert_eq!(again, Err(e), "{doc:?}");
                }
                Err((e, false)) => {
                    assert_eq!(outline.parse(doc.as_bytes()), Err(e), "{doc:?}");
                    tolerant_reads += usize::from(again.is_ok());
                }
            }
        }
        assert!(
            known > 1_000 && tolerant_reads > 1_000,
            "{known} {tolerant_reads}"
        );
    }

    fn outline(doc: &str) -> Outline {
        let mut o = Outline::default();
        o.parse(doc.as_bytes()).unwrap();
        o
    }

    fn paths(doc: &str) -> Vec<(String, String, bool)> {
        let o = outline(doc);
        o.strings
            .iter()
            .map(|s| {
                let mut p = String::from("$");
                o.render_path(doc.as_bytes(), s.node, &|_| false, &mut p);
                (p, doc[s.raw.range()].to_string(), s.is_key)
            })
            .collect()
    }

    #[test]
    fn records_every_string_with_its_path() {
        let doc = r#"{"model":"x","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"n":1.5e3,"ok":true,"z":null}"#;
        let got = paths(doc);
        assert!(got.contains(&("$.messages[0].content[0].text".into(), "hi".into(), false)));
        assert!(got.contains(&("$.model".into(), "model".into(), true)));
        assert!(got.contains(&("$.model".into(), "x".into(), false)));
        assert_eq!(got.iter().filter(|(_, _, k)| !k).count(), 4);
    }

    #[test]
    fn odd_keys_are_quoted_or_hidden() {
        let got = paths(r#"{"a b":"1","\u0041":"2"}"#);
        assert_eq!(got[1].0, "$[\"a b\"]");
        assert_eq!(got[3].0, "$[\"\\u0041\"]");
    }

    #[test]
    fn rejects_malformed_documents() {
        let mut o = Outline::default();
        for bad in [
            "",
            "{",
            "{\"a\":}",
            "[1,]",
            "{\"a\" 1}",
            "\"\\x\"",
            "01",
            "1.",
            "-",
            "tru",
            "[1] x",
            "\"a\nb\"",
            "{\"a\":1,}",
            "\"\\u12\"",
        ] {
            assert!(o.parse(bad.as_bytes()).is_err(), "accepted {bad:?}");
        }
        for good in [
            "0",
            "-0.5E+3",
            " [ ] ",
            "{}",
            "\"\\ud83d\\ude00\"",
            "[[[]]]",
        ] {
            assert!(o.parse(good.as_bytes()).is_ok(), "rejected {good:?}");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(MAX_JSON_DEPTH + 5) + &"]".repeat(MAX_JSON_DEPTH + 5);
        let mut o = Outline::default();
        assert!(matches!(
            o.parse(deep.as_bytes()),
            Err(SyntaxError::TooDeep(_))
        ));
        let ok = "[".repeat(MAX_JSON_DEPTH) + &"]".repeat(MAX_JSON_DEPTH);
        assert!(o.parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn canonical_only_when_escaping_gives_the_bytes_back() {
        let pieces: &[&[u8]] = &[
            b"a",
            b" ",
            b"\\\"",
            b"\\\\",
            b"\\n",
            b"\\r",
            b"\\t",
            b"\\/",
            b"\\b",
            b"\\f",
            b"\\u0001",
            b"\\u001f",
            b"\\u001F",
            b"\\u000a",
            b"\\u0009",
            b"\\u000d",
            b"\\u0020",
            b"\\u00e9",
            b"\\ud83d\\ude00",
            b"\\u0000",
            b"\\u000b",
            b"\\u",
            b"\\",
            b"\xc3\xa9",
            b"\xe9",
            b"\x01",
            b"\"",
            b"\x7f",
            b"z9",
        ];
        let mut rng = crate::engine::test_rng::TestRng::new(0x16_e5ca_9e5a_5717);
        let (mut yes, mut no) = (0, 0);
        for _ in 0..20_000 {
            let raw: Vec<u8> = (0..rng.below(12))
                .flat_map(|_| rng.pick(pieces).iter().copied())
                .collect();
            let mut text = Vec::new();
            unescape(&raw, &mut text);
            let mut again = Vec::new();
            escape_into(&text, &mut again);
            // Never a wrong yes, and a yes for every string `escape_into` writes.
            assert_eq!(
                canonical_offsets(&raw, &[], &mut Vec::new()),
                again == raw,
                "{raw:?}"
            );
            assert!(canonical_offsets(&again, &[], &mut Vec::new()), "{again:?}");
            // Where text offsets lie in the bytes as written: as `raw_offsets` says.
            let edges: Vec<usize> = (0..=text.len() + 1).filter(|_| rng.below(3) == 0).collect();
            let (mut one_read, mut walked) = (Vec::new(), Vec::new());
            if canonical_offsets(&again, &edges, &mut one_read) {
                assert!(
                    raw_offsets(&again, &edges, &mut walked),
                    "{again:?} {edges:?}"
                );
                assert_eq!(one_read, walked, "{again:?} {edges:?}");
            } else {
                assert!(edges.last().is_some_and(|&e| e > text.len()), "{again:?}");
            }
            if again == raw {
                yes += 1;
            } else {
                no += 1;
            }
        }
        assert!(yes > 2000 && no > 2000, "{yes} canonical, {no} not");
    }

    #[test]
    fn unescape_and_escape_round_trip() {
        let raw = r#"a\"b\\c\nd\u00e9\ud83d\ude00\ud800x\/"#;
        let mut out = Vec::new();
        unescape(raw.as_bytes(), &mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "a\"b\\c\nd\u{e9}\u{1F600}\u{FFFD}x/"
        );
        let mut escaped = Vec::new();
        escape_into(&out, &mut escaped);
        let reparsed: String =
            serde_json::from_slice(&[b"\"".as_slice(), &escaped, b"\""].concat()).unwrap();
        assert_eq!(reparsed.as_bytes(), out.as_slice());
    }

    #[test]
    fn the_word_loops_agree_with_the_byte_loops() {
        let mut rng = crate::engine::test_rng::TestRng::new(5);
        let alphabet = b"ab\\\"\n\x01\x1f\x7f\x80\xe9 nut";
        for _ in 0..5000 {
            let len = rng.below(70);
            let bytes: Vec<u8> = (0..len).map(|_| rng.pick(alphabet)).collect();
            let slow = bytes
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            assert_eq!(find_string_special(&bytes), slow, "{bytes:?}");
            let mut fast = Vec::new();
            unescape(&bytes, &mut fast);
            let mut by_runs = Vec::new();
            unescape_runs(&bytes, &mut by_runs, false);
            assert_eq!(fast, by_runs, "{bytes:?}");
        }
    }

    #[test]
    fn raw_offsets_map_text_offsets_back_through_escapes() {
        let raw = br#"ab\ncd\u00e9f\ud83d\ude00g\ud800h"#;
        let mut text = Vec::new();
        unescape(raw, &mut text);
        // Every offset of the text that starts a character maps to where that character's
        // bytes are written; the bytes between map to nothing.
        let mut expected = Vec::new();
        let (mut t, mut r) = (0, 0);
        for (yields, spans) in [
            (1, 1),
            (1, 1),
            (1, 2),
            (1, 1),
            (1, 1),
            (2, 6),
            (1, 1),
            (4, 12),
            (1, 1),
            (3, 6),
            (1, 1),
        ] {
            expected.push((t, Some(r)));
            for inside in 1..yields {
                expected.push((t + inside, None));
            }
            t += yields;
            r += spans;
        }
        expected.push((t, Some(r)));
        assert_eq!(t, text.len());
        assert_eq!(r, raw.len());
        for (offset, want) in expected {
            let mut out = Vec::new();
            let mapped = raw_offsets(raw, &[offset], &mut out);
            assert_eq!(mapped.then(|| out[0]), want, "offset {offset}");
        }
        let mut out = Vec::new();
        assert!(raw_offsets(raw, &[0, 2, 3, 12], &mut out));
        assert_eq!(out, [0, 2, 4, 25]);
        assert!(!raw_offsets(raw, &[text.len() + 1], &mut out));
    }

    #[test]
    fn escape_keeps_output_valid_for_invalid_utf8_and_controls() {
        let mut escaped = Vec::new();
        escape_into(b"a\x01\xffb", &mut escaped);
        let reparsed: String =
            serde_json::from_slice(&[b"\"".as_slice(), &escaped, b"\""].concat()).unwrap();
        assert_eq!(reparsed, "a\u{1}\u{FFFD}b");
    }
}

#[cfg(test)]
mod resume_tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test code
    use super::*;

    fn same(a: &Outline, b: &Outline, what: &str) {
        assert_eq!(a.nodes, b.nodes, "{what}: nodes");
        assert_eq!(a.strings, b.strings, "{what}: strings");
        assert_eq!(a.runs, b.runs, "{what}: runs");
        assert_eq!(a.boundaries, b.boundaries, "{what}: boundaries");
    }

    /// A parse resumed at any item's end of an earlier document sharing those bytes gives the
    /// outline a full parse gives, for continuations that add, drop or change items, and a
    /// continuation that is no longer JSON fails as the full parse does.
    #[test]
    fn a_resumed_parse_is_the_full_parse() {
        let first = br#" {"messages": [{"role": "user", "content": "a\nb"}, [1, 2, "x"],
            {"content": [{"type": "text", "text": "AKIA"}, "q"]}, {"k": ["ab", "cd"]}],
            "model": "m", "tools": [{"name": "t"}, {"name": "u"}]} "#;
        let continuations: [&[u8]; 6] = [
            br#"], "model": "m", "tools": [{"name": "t"}, {"name": "u"}]} "#,
            br#", {"role": "assistant", "content": "new"}], "model": "m2"}"#,
            br#", {"a": {"b": [1, 22222222222, "s"]}}, {"x": 1}], "z": [{"y": 2}]}"#,
            br#"]}"#,
            br#", ]}"#,
            br#"], "model": "m"} {"#,
        ];
        let mut original = Outline::default();
        original.parse(first).unwrap();
        assert!(original.boundaries.len() >= 5, "{:?}", original.boundaries);
        for i in 0..original.boundaries.len() {
            for cont in continuations {
                let end = original.boundaries[i].end;
                let doc = [&first[..end], cont].concat();
                let mut full = Outline::default();
                let expected = full.parse(&doc);
                let mut resumed = Outline::default();
                resumed.parse(first).unwrap();
                let at = resumed.truncate_to(i).unwrap();
                let got = resumed.resume(&doc, &at);
                let what = format!("boundary {i}, {}", String::from_utf8_lossy(cont));
                assert_eq!(got.is_ok(), expected.is_ok(), "{what}");
                if got.is_ok() {
                    same(&resumed, &full, &what);
                }
            }
        }
    }
}
