-- Version 6: the node that holds a queued e-mail or ISO 18626 message while sending it. A
-- sender that restarts frees its own holds at once (it has nothing in flight), instead of
-- leaving its messages to wait out the hold meant for a node that died for good.
ALTER TABLE notices ADD COLUMN claimed_by TEXT;
ALTER TABLE ill_outbox ADD COLUMN claimed_by TEXT;
