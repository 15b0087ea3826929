//! What an audit event records: every action Quire writes to the log, with the stable dotted
//! name it is stored, exported, filtered and counted by. The names are part of the log's
//! meaning (a verifier or an auditor reads them years later), so a name is never changed, only
//! added.

named! {
    /// An audited action. Scanner faults, whose class comes from the scanner driver, are named
    /// apart (see [`SCAN_FAULT`]).
    pub enum Action ("audit action") {
        DaemonStarted = "daemon.started",
        DaemonStopped = "daemon.stopped",
        /// A scan was taken into custody.
        JobReceived = "job.received",
        /// The scan's bytes equal an earlier job's.
        JobDuplicate = "job.duplicate",
        /// The job waits for a person (review queue).
        JobHeld = "job.held",
        JobReleased = "job.released",
        JobReprocess = "job.reprocess",
        JobMatched = "job.matched",
        JobProcessing = "job.processing",
        JobProcessed = "job.processed",
        /// A try at processing failed (a panic, a run cut short); it will be tried again.
        JobRetry = "job.retry",
        JobRequeued = "job.requeued",
        /// A job left in `processing` by a stopped daemon was picked up again.
        JobResumed = "job.resumed",
        /// The node processing a job stopped renewing its lease (it died or lost the
        /// database); the job went back to the queue for another node.
        JobLeaseLapsed = "job.lease_lapsed",
        JobSplit = "job.split",
        JobFailed = "job.failed",
        /// A preservation master (a BagIt bag of the originals, processed PDF and report) was
        /// written for a job.
        JobPreserved = "job.preserved",
        /// An inbox entry was refused (quarantined or ignored) with its reason.
        IntakeRefused = "intake.refused",
        RequestCreated = "request.created",
        /// A request was cancelled before it was delivered: by the requester over ISO 18626,
        /// or through the API.
        RequestCancelled = "request.cancelled",
        /// A person or client corrected a request's citation before delivery.
        RequestCitationSet = "request.citation_set",
        /// A person set a request's copyright basis.
        RequestBasisSet = "request.basis_set",
        /// An ISO 18626 message from a peer was taken (a request, a cancel, a status request).
        Iso18626Received = "iso18626.received",
        /// An ISO 18626 message was refused: unknown agency, wrong credentials, bad message.
        Iso18626Refused = "iso18626.refused",
        /// A status message reached the peer, which confirmed it.
        Iso18626Sent = "iso18626.sent",
        /// A status message could not be delivered and is given up (or will be retried).
        Iso18626Failed = "iso18626.failed",
        Iso18626Retry = "iso18626.retry",
        /// A status message for a requester was queued as its request moved.
        Iso18626Queued = "iso18626.queued",
        DeliveryCreated = "delivery.created",
        /// Staff looked at a stamped copy without delivering it.
        DeliveryPreviewed = "delivery.previewed",
        DeliveryPurged = "delivery.purged",
        /// A compliance officer released a held delivery.
        DeliveryReleased = "delivery.released",
        /// A copy beyond the CONTU limit was held (policy `hold`).
        ComplianceHeld = "compliance.held",
        /// A copy beyond the CONTU limit was delivered with a warning (policy `warn`).
        ComplianceWarning = "compliance.warning",
        /// A copy's title is close to another counted work's.
        ComplianceTitleSimilar = "compliance.title_similar",
        LinkDownload = "link.download",
        LinkCodeRefused = "link.code_refused",
        LinkLocked = "link.locked",
        LinkUnlocked = "link.unlocked",
        LinkRevoked = "link.revoked",
        LinkExtended = "link.extended",
        NoticeSent = "notice.sent",
        /// A notice failed for good (a permanent refusal, or out of tries).
        NoticeFailed = "notice.failed",
        NoticeRetry = "notice.retry",
        NoticeResent = "notice.resent",
        /// A retention run pruned old records; its details name the checkpoint it left.
        RetentionPruned = "retention.pruned",
        RetentionPseudonymised = "retention.pseudonymised",
        StaffLogin = "staff.login",
        StaffLogout = "staff.logout",
        StaffLoginFailed = "staff.login_failed",
        UserAdded = "user.added",
        UserPasswordChanged = "user.password_changed",
        UserRoleChanged = "user.role_changed",
        UserRemoved = "user.removed",
        /// A free-text note a person added to the log.
        AuditNote = "audit.note",
        /// `quire trace` looked up who a copy was delivered to.
        TraceLookup = "trace.lookup",
        /// A scan from `quire scan --request` completed.
        ScanCaptured = "scan.captured",
        /// A webhook endpoint refused or missed an event `max_attempts` times; it was skipped
        /// so later events still go out.
        WebhookFailed = "webhook.failed",
    }
}

/// The prefix of every scanner fault's name: `scan.fault.<class>`, where the class is the
/// scanner driver's stable slug (`jammed`, `cover_open`, ...). Those events are made by
/// [`crate::NewEvent::scan_fault`].
pub const SCAN_FAULT: &str = "scan.fault.";

impl Action {
    /// Whether a stored event's action is this one.
    pub fn names(self, stored: &str) -> bool {
        stored == self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_unique_dotted_and_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for action in Action::ALL {
            let name = action.as_str();
            assert!(seen.insert(name), "{name} named twice");
            assert!(
                name.contains('.') && !name.starts_with(SCAN_FAULT),
                "{name}"
            );
            assert_eq!(name.parse::<Action>(), Ok(*action));
            assert!(action.names(name));
        }
    }
}
