//! An ISO 18626 transaction: a request a partner library's ILL system sent us (Quire supplies),
//! the messages exchanged about it, and the status messages waiting to go back.

use serde::Serialize;

use crate::Timestamp;

named! {
    /// What Quire last told (or will tell) the requester about its request: the standard's
    /// `type_status` values a supplier of copies uses.
    pub enum IllStatus ("ISO 18626 status") {
        ExpectToSupply = "ExpectToSupply",
        WillSupply = "WillSupply",
        CopyCompleted = "CopyCompleted",
        Unfilled = "Unfilled",
        Cancelled = "Cancelled",
    }
}

named! {
    pub enum Direction ("message direction") {
        /// From the peer to us.
        In = "in",
        /// From us to the peer.
        Out = "out",
    }
}

named! {
    /// A status message's way out.
    pub enum OutboxState ("outbox state") {
        /// Waiting for its (next) attempt.
        Pending = "pending",
        /// The peer confirmed it.
        Sent = "sent",
        /// Out of tries, or refused for good; shown to staff.
        Failed = "failed",
    }
}

/// The requester's side of one of our requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IllTransaction {
    /// Our request (the id technicians scan under).
    pub request_id: String,
    pub peer_agency_type: String,
    pub peer_agency_id: String,
    /// The requester's `requestingAgencyRequestId`.
    pub requester_request_id: String,
    pub multiple_item_request_id: Option<String>,
    /// `Copy` (supplied) or `Loan` (answered Unfilled).
    pub service_type: String,
    pub status: IllStatus,
    /// False when the requester gave no copyright compliance we know: a person sets the basis.
    pub basis_given: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One message in or out, kept for the request page and for support.
#[derive(Debug, Clone, Serialize)]
pub struct IllMessage {
    pub id: i64,
    pub request_id: Option<String>,
    /// `TYPE:ID` of the peer.
    pub peer: String,
    pub direction: Direction,
    /// `request`, `requestingAgencyMessage`, `supplyingAgencyMessage`, or a confirmation.
    pub kind: String,
    /// The status, action, or error in a few words.
    pub summary: String,
    pub body: String,
    pub at: Timestamp,
}

/// A message about to be recorded.
#[derive(Debug, Clone)]
pub struct NewIllMessage {
    pub request_id: Option<String>,
    pub peer: String,
    pub direction: Direction,
    pub kind: String,
    pub summary: String,
    pub body: String,
}

/// A status message for a peer, queued until the peer confirms it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub request_id: String,
    pub peer: String,
    pub status: IllStatus,
    pub body: String,
    pub state: OutboxState,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

/// `TYPE:ID`, the way a peer is named in messages' records.
pub fn peer_key(id_type: &str, id: &str) -> String {
    format!("{}:{}", id_type.trim().to_ascii_uppercase(), id.trim())
}
