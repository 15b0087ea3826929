//! ISO 18626 (interlibrary loan transactions) messages, for a library that supplies copies.
//!
//! - [`read`]: a tolerant reader of what a requesting library's system sends: `request` and
//!   `requestingAgencyMessage`, wrapped in `ISO18626Message` or bare, in version 1.1, 1.2 or
//!   2021, with or without the namespace prefix on `version` and `scheme`, timestamps with
//!   `+0000` offsets, and without `multipleItemRequestId`. Anything it cannot take is an
//!   [`Refusal`] carrying the standard's `errorType` and a readable `errorValue`.
//! - [`write`](mod@write): a strict writer of what Quire sends: `requestConfirmation` and
//!   `requestingAgencyMessageConfirmation`, and `supplyingAgencyMessage` with a request's status
//!   (`ExpectToSupply`, `WillSupply`, `Unfilled`, `Cancelled`, `CopyCompleted` with the link),
//!   in exactly the [`Version`] and [`StatusStyle`](write::StatusStyle) a peer is configured for,
//!   valid against that version's schema.
//!
//! The reader refuses any document type declaration, so no entity, external or internal, is
//! ever defined, let alone resolved; only XML's five predefined entities and character
//! references are read. It limits nesting and element count; the HTTP layer limits size.
//!
//! Not here: HTTP, peers and their credentials, mapping a request to Quire's own, and the queue
//! that sends statuses (issue 17 builds those on this crate).

pub mod read;
mod tree;
pub mod write;

pub use read::{
    Action, AgencyId, Header, Incoming, Kind, Refusal, RequestMessage, RequestingAgencyMessage,
};
pub use write::{Confirmation, Version};

/// The namespace of every ISO 18626 element and attribute.
pub const NAMESPACE: &str = "http://illtransactions.org/2013/iso18626";

/// The standard's error types (`type_errorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    UnsupportedActionType,
    UnsupportedReasonForMessageType,
    UnrecognisedDataElement,
    UnrecognisedDataValue,
    BadlyFormedMessage,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnsupportedActionType => "UnsupportedActionType",
            Self::UnsupportedReasonForMessageType => "UnsupportedReasonForMessageType",
            Self::UnrecognisedDataElement => "UnrecognisedDataElement",
            Self::UnrecognisedDataValue => "UnrecognisedDataValue",
            Self::BadlyFormedMessage => "BadlyFormedMessage",
        }
    }
}
