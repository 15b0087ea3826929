//! Deliveries (one stamped copy for one recipient), their links, and the notices that announce
//! them.

use serde::Serialize;

use crate::Timestamp;
use crate::request::Basis;

named! {
    /// Where a delivery stands.
    pub enum DeliveryState ("delivery state") {
        /// Beyond the CONTU limit under policy `hold`: nobody can download it until a
        /// compliance officer releases it.
        Held = "held",
        Active = "active",
        /// Its stamped file is deleted; its record stays for the compliance report.
        Purged = "purged",
    }
}

named! {
    /// Where an e-mail notice stands.
    pub enum NoticeState ("notice state") {
        /// Waiting for its next attempt.
        Pending = "pending",
        Sent = "sent",
        /// Failed for good: a permanent refusal, or out of tries.
        Failed = "failed",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: String,
    pub request_id: String,
    pub job_id: Option<String>,
    /// The processed, unstamped PDF this copy was made from.
    pub document_sha256: String,
    /// The stamped copy: its key in the store, and what `quire trace` looks up.
    pub stamped_sha256: String,
    pub basis: Basis,
    pub state: DeliveryState,
    pub hold_reason: Option<String>,
    pub file_name: String,
    pub bytes: i64,
    pub page_count: i64,
    pub recipient: String,
    pub library: Option<String>,
    pub created_at: Timestamp,
    pub purged_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub id: String,
    pub delivery_id: String,
    #[serde(skip)]
    pub token_sha256: String,
    pub expires_at: Timestamp,
    pub downloads_left: i64,
    pub downloads_allowed: i64,
    #[serde(skip)]
    pub pickup_code_sha256: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// Set when too many wrong pickup codes locked the link; cleared by staff unlocking it.
    pub locked_at: Option<Timestamp>,
    /// Wrong pickup codes since the link was made or last unlocked.
    pub code_failures: i64,
}

named! {
    /// Whether a link gives the file, and why not.
    pub enum LinkState ("link state") {
        Active = "active",
        Expired = "expired",
        Revoked = "revoked",
        UsedUp = "used_up",
        Purged = "purged",
        /// Waiting for a compliance officer (a copy beyond the CONTU limit).
        Held = "held",
        /// Too many wrong pickup codes; staff can unlock it.
        Locked = "locked",
    }
}

impl Link {
    pub fn state(&self, delivery_state: DeliveryState, now: Timestamp) -> LinkState {
        if delivery_state == DeliveryState::Purged {
            LinkState::Purged
        } else if delivery_state == DeliveryState::Held {
            LinkState::Held
        } else if self.revoked_at.is_some() {
            LinkState::Revoked
        } else if self.expires_at <= now {
            LinkState::Expired
        } else if self.locked_at.is_some() {
            LinkState::Locked
        } else if self.downloads_left <= 0 {
            LinkState::UsedUp
        } else {
            LinkState::Active
        }
    }
}

impl Delivery {
    /// Where the delivery stands for the borrower: its link's state (revoked, expired, used up,
    /// locked), not only the stored `state`, which stays `active` until the file is purged. A
    /// delivery without a link stands where its stored state says.
    pub fn status(&self, link: Option<&Link>, now: Timestamp) -> LinkState {
        match (link, self.state) {
            (Some(link), state) => link.state(state, now),
            (None, DeliveryState::Held) => LinkState::Held,
            (None, DeliveryState::Active) => LinkState::Active,
            (None, DeliveryState::Purged) => LinkState::Purged,
        }
    }
}

/// An e-mail waiting in the database to be sent.
#[derive(Debug, Clone)]
pub struct QueuedNotice {
    pub id: i64,
    pub delivery_id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
}

/// An e-mail notice as staff see it: where it stands, and why it failed if it did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NoticeStatus {
    pub delivery_id: String,
    pub recipient: String,
    pub state: NoticeState,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// What one download attempt got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Counted; this many remain.
    Granted {
        left: i64,
    },
    /// Not counted: the same client resumes a download counted within the session window.
    Resumed {
        left: i64,
    },
    Refused(LinkState),
}

/// How wrong pickup codes are limited (`[links] pickup_*`), with the window as a stored time.
#[derive(Debug, Clone)]
pub struct PickupPolicy {
    /// Wrong codes allowed per link and per client after `since`.
    pub attempts: i64,
    /// The start of the counting window.
    pub since: Timestamp,
    /// Wrong codes since the last unlock that lock the link.
    pub lock_after: i64,
}

/// What a pickup code attempt got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The right code, within the limits: go on to the download.
    Accepted,
    /// A wrong code, counted; `locked` when it was the one that locked the link.
    Wrong { locked: bool },
    /// Over the limit for this link or this client: refused without looking at the code.
    Limited,
    /// The link is locked: refused until staff unlock it.
    Locked,
}

impl CodeCheck {
    /// Why a code was refused, as the audit log's `link.code_refused` names it.
    pub fn refusal(self) -> Option<&'static str> {
        match self {
            Self::Accepted => None,
            Self::Wrong { .. } => Some("wrong"),
            Self::Limited => Some("limited"),
            Self::Locked => Some("locked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(state: DeliveryState) -> Delivery {
        Delivery {
            id: "dlv_1".into(),
            request_id: "TN1".into(),
            job_id: None,
            document_sha256: String::new(),
            stamped_sha256: String::new(),
            basis: Basis::Ccg,
            state,
            hold_reason: None,
            file_name: "x.pdf".into(),
            bytes: 0,
            page_count: 1,
            recipient: "A".into(),
            library: None,
            created_at: Timestamp::UNIX_EPOCH,
            purged_at: None,
        }
    }

    fn link(expires: &str) -> Link {
        Link {
            id: "lnk_1".into(),
            delivery_id: "dlv_1".into(),
            token_sha256: String::new(),
            expires_at: expires.parse().unwrap(),
            downloads_left: 3,
            downloads_allowed: 3,
            pickup_code_sha256: None,
            revoked_at: None,
            created_at: Timestamp::UNIX_EPOCH,
            locked_at: None,
            code_failures: 0,
        }
    }

    /// A stored `active` delivery whose link ran out or was withdrawn shows as such.
    #[test]
    fn a_delivery_stands_where_its_link_stands() {
        let now: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let active = delivery(DeliveryState::Active);
        let live = link("2026-07-01T00:00:00Z");
        assert_eq!(active.status(Some(&live), now), LinkState::Active);
        let ran_out = link("2026-05-01T00:00:00Z");
        assert_eq!(active.status(Some(&ran_out), now), LinkState::Expired);
        let mut revoked = live.clone();
        revoked.revoked_at = Some(now);
        assert_eq!(active.status(Some(&revoked), now), LinkState::Revoked);
        let mut used = live.clone();
        used.downloads_left = 0;
        assert_eq!(active.status(Some(&used), now), LinkState::UsedUp);
        // Held and purged win over the link; without a link the record says.
        let held = delivery(DeliveryState::Held);
        assert_eq!(held.status(Some(&live), now), LinkState::Held);
        assert_eq!(held.status(None, now), LinkState::Held);
        let purged = delivery(DeliveryState::Purged);
        assert_eq!(purged.status(Some(&revoked), now), LinkState::Purged);
        assert_eq!(active.status(None, now), LinkState::Active);
    }
}
