//! Protected documents and records: detect copies of an organisation's own text and data.
//!
//! Two index kinds, both built offline by `airlock index` and loaded by the filter as bytes:
//!
//! * [`documents`]: fingerprints of protected text (source trees, design documents). Text is
//!   normalized ([`text_view`] for prose, [`code_view`] for source code), cut into k-grams,
//!   hashed with a per-index key ([`keyed`]) and winnowed ([`winnow`], the MOSS scheme). A
//!   request's text is fingerprinted the same way; a run of one document's fingerprints that
//!   covers enough of the text is a finding with the copied region's span.
//!   Code shapes common across public projects ([`public_shapes`], built by `airlock index
//!   shapes`, one table built into the CLI) are marked in the index: they match only as written.
//! * [`records`]: exact data match over structured rows (customer tables, HR exports). Each
//!   cell is normalized by what it holds and stored as a keyed hash; a finding is enough cells
//!   of one row in one text.
//!
//! Neither index holds the protected text: only keyed hashes, document numbers (names only when
//! asked for) and row numbers. Whoever holds an index can test a guessed passage or value, not
//! read one. The file framing (magic, version, SHA-256) is shared in [`container`].
//!
//! Everything here is host-agnostic and panic-free, so it runs in the wasm filter as it runs in
//! the CLI. Paths of the engine are used only through [`fold`].

mod buckets;
pub mod code_regions;
pub mod code_view;
pub mod container;
pub mod documents;
pub mod envelope;
pub mod fold;
pub mod keyed;
pub mod public_shapes;
pub mod records;
pub mod text_view;
pub mod units;
pub mod winnow;

pub use container::IndexError;
pub use documents::{DocumentIndex, DocumentMatch};
pub use records::{RecordIndex, RecordMatch};
