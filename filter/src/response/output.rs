//! What one piece of response text goes through, in order: inspection (when the tier asks
//! for it, `inspect.rs`), then restoring the request's tokens (`text.rs`, `json.rs`).
//!
//! The order is the point (see `inspect.rs`): what the model wrote is inspected with the
//! request's tokens still in place, so the client's own values, restored after, are never
//! masked back at it. Each step may hold back a tail of a streamed channel; the tail kept is
//! the longer of the two, and is raw text (neither masked nor restored) that is passed again
//! with what follows.

use super::inspect::{Inspector, OUTPUT_HOLD_BYTES, OUTPUT_SCAN_STEP};
use super::json::restore_string;
use super::map::RestoreMap;
use super::text::{restore_all, restore_partial, Landing};

/// The steps for one callback's worth of response text.
pub struct Output<'m, 'i, 'a> {
    pub map: &'m RestoreMap,
    pub inspector: Option<&'i mut Inspector<'a>>,
    /// Tokens restored so far by this value.
    pub restored: usize,
    masked: Vec<u8>,
}

impl<'m, 'i, 'a> Output<'m, 'i, 'a> {
    pub fn new(map: &'m RestoreMap, inspector: Option<&'i mut Inspector<'a>>) -> Self {
        Output {
            map,
            inspector,
            restored: 0,
            masked: Vec::new(),
        }
    }

    /// Whether text is inspected at all (else only restored).
    pub fn inspects(&self) -> bool {
        self.inspector.is_some()
    }

    /// A whole string: `Some(new text)` in `out` when it changed. `output`: it is model output
    /// (`inspect::is_output`), inspected if the tier asks.
    pub fn whole<'o>(
        &mut self,
        text: &[u8],
        output: bool,
        out: &'o mut Vec<u8>,
    ) -> Option<&'o [u8]> {
        let Some(inspector) = self.inspector.as_deref_mut().filter(|_| output) else {
            return restore_string(self.map, text, 0, &mut self.restored, out);
        };
        let mut masked = std::mem::take(&mut self.masked);
        masked.clear();
        inspector.pass(text, false, &mut masked);
        let changed = masked != text;
        let restored = restore_string(self.map, &masked, 0, &mut self.restored, out).is_some();
        if !restored && changed {
            out.clear();
            out.extend_from_slice(&masked);
        }
        self.masked = masked;
        (restored || changed).then_some(out.as_slice())
    }

    /// A delta (the channel's held tail already in front of `text`): appends what goes out to
    /// `out`, returns how many bytes at the end of `text` are held back (0 unless `may_hold`).
    pub fn delta(
        &mut self,
        text: &[u8],
        landing: Landing,
        may_hold: bool,
        out: &mut Vec<u8>,
    ) -> usize {
        let Some(inspector) = self.inspector.as_deref_mut() else {
            return self.restore(text, landing, may_hold, out);
        };
        if may_hold && text.len() < OUTPUT_HOLD_BYTES + OUTPUT_SCAN_STEP {
            // Scanned once per step of new text, not once per (often one-character) delta.
            return text.len();
        }
        let mut masked = std::mem::take(&mut self.masked);
        masked.clear();
        let cut = inspector.pass(text, may_hold, &mut masked);
        let mark = out.len();
        let mut hold = self.restore(&masked, landing, may_hold, out);
        // The restorer's tail is unmasked text (a mask never ends in a token's first bytes);
        // should it not be, the emitted part is restored whole instead.
        let tail = masked
            .get(masked.len().saturating_sub(hold)..)
            .unwrap_or_default();
        if hold > 0 && text.get(cut.saturating_sub(hold)..cut) != Some(tail) {
            out.truncate(mark);
            hold = 0;
            self.restored += restore_all(self.map, &masked, landing, out);
        }
        self.masked = masked;
        text.len() - cut + hold
    }

    /// Text that is not restored (an SSE event that is not JSON, a comment): appended to
    /// `out` as it is, or inspected (and masked) as a whole when the tier asks.
    pub fn inspect_only(&mut self, text: &[u8], out: &mut Vec<u8>) {
        match self.inspector.as_deref_mut() {
            Some(inspector) => {
                inspector.pass(text, false, out);
            }
            None => out.extend_from_slice(text),
        }
    }

    fn restore(
        &mut self,
        text: &[u8],
        landing: Landing,
        may_hold: bool,
        out: &mut Vec<u8>,
    ) -> usize {
        if may_hold {
            let (n, hold) = restore_partial(self.map, text, landing, out);
            self.restored += n;
            hold
        } else {
            self.restored += restore_all(self.map, text, landing, out);
            0
        }
    }
}
