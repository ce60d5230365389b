//! Which edges between fields a joining detector's finding could cross, each tested once.
//!
//! Joined matching (`join.rs`) reads windows of 2 and 3 consecutive fields, so each edge is
//! an inner edge of up to three windows, and each window used to cut out its text, find its
//! word edges and test its edges on that text (~2 200 wasm instructions between short
//! messages, for windows that were then not scanned). Here each edge is tested once, on all
//! the fields' text around it rather than on a window's: a window's text is a stretch of that
//! text, so the runs on either side of the edge can only be longer there, and an edge closed
//! here is closed in every window ([`Straddle::may_cross`] is monotone in the runs). A
//! window none of whose edges is open finds nothing the per-field scan did not, and is passed
//! over before its text is cut out.

use crate::engine::walk::straddle::Straddle;

#[derive(Debug, Default)]
pub(crate) struct EdgeMemo {
    /// Per field, the edge before it: not tested yet, closed, or open.
    state: Vec<Edge>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Untested,
    Closed,
    Open,
}

impl EdgeMemo {
    /// Forgets every edge: `fields` fields, tested with another scope's detectors.
    pub(crate) fn reset(&mut self, fields: usize) {
        self.state.clear();
        self.state.resize(fields, Edge::Untested);
    }

    /// Whether a finding could cross the edge before field `field`; `around`: the text of
    /// every field about it and where the field starts in it (`None`: not known, so open).
    pub(crate) fn open<'t>(
        &mut self,
        straddle: &Straddle,
        field: usize,
        around: impl FnOnce() -> Option<(&'t [u8], usize)>,
    ) -> bool {
        let Some(state) = self.state.get_mut(field) else {
            return true;
        };
        if *state == Edge::Untested {
            let open = around().is_none_or(|(text, at)| straddle.may_cross(text, at));
            *state = if open { Edge::Open } else { Edge::Closed };
        }
        *state == Edge::Open
    }
}
