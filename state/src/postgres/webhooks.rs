//! Webhook cursors in PostgreSQL. A claim is one conditional `UPDATE ... RETURNING`: the row
//! lock it takes makes two nodes' claims of one endpoint run one after the other, and the
//! second finds the cursor held. Writes run under the write lock like every other (an advance
//! may append `webhook.failed` to the one audit chain).

use postgres::Row;

use super::{PostgresDatabase, append_in, time_opt};
use crate::webhooks::{WebhookCursor, WebhookRepo};
use crate::{NewEvent, StateError, Timestamp};

const COLUMNS: &str =
    "endpoint, last_seq, attempts, next_attempt_at, last_error, claimed_by, claimed_until";

fn read(r: &Row) -> Result<WebhookCursor, StateError> {
    let attempts: i32 = r.try_get(2)?;
    Ok(WebhookCursor {
        endpoint: r.try_get(0)?,
        last_seq: r.try_get(1)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| StateError::Corrupt(format!("webhook attempts {attempts}")))?,
        next_attempt_at: time_opt(r, 3)?,
        last_error: r.try_get(4)?,
        claimed_by: r.try_get(5)?,
        claimed_until: time_opt(r, 6)?,
    })
}

impl WebhookRepo for PostgresDatabase {
    fn webhook_claim(
        &self,
        endpoint: &str,
        node: &str,
        until: Timestamp,
    ) -> Result<Option<WebhookCursor>, StateError> {
        let now = Timestamp::now().to_string();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO webhook_cursors (endpoint, last_seq)
                 SELECT $1, COALESCE(MAX(seq), 0)::BIGINT FROM audit_events
                 ON CONFLICT (endpoint) DO NOTHING",
                &[&endpoint],
            )?;
            tx.query_opt(
                &format!(
                    "UPDATE webhook_cursors SET claimed_by = $2, claimed_until = $3
                     WHERE endpoint = $1
                       AND (claimed_by IS NULL OR claimed_by = $2 OR claimed_until < $4)
                       AND (next_attempt_at IS NULL OR next_attempt_at <= $4)
                     RETURNING {COLUMNS}"
                ),
                &[&endpoint, &node, &until.to_string(), &now],
            )?
            .map(|r| read(&r))
            .transpose()
        })
    }

    fn webhook_advance(
        &self,
        endpoint: &str,
        node: &str,
        seq: i64,
        event: Option<NewEvent>,
    ) -> Result<bool, StateError> {
        self.write(|tx| {
            let moved = tx.execute(
                "UPDATE webhook_cursors
                 SET last_seq = $3, attempts = 0, next_attempt_at = NULL, last_error = NULL
                 WHERE endpoint = $1 AND claimed_by = $2 AND last_seq <= $3",
                &[&endpoint, &node, &seq],
            )? == 1;
            if moved && let Some(event) = event {
                append_in(tx, event)?;
            }
            Ok(moved)
        })
    }

    fn webhook_retry(
        &self,
        endpoint: &str,
        node: &str,
        attempts: u32,
        next_at: Timestamp,
        error: &str,
    ) -> Result<bool, StateError> {
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE webhook_cursors SET attempts = $3, next_attempt_at = $4, last_error = $5
                 WHERE endpoint = $1 AND claimed_by = $2",
                &[&endpoint, &node, &attempts, &next_at.to_string(), &error],
            )? == 1)
        })
    }

    fn webhook_release(&self, node: &str) -> Result<usize, StateError> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE webhook_cursors SET claimed_by = NULL, claimed_until = NULL
                 WHERE claimed_by = $1",
                &[&node],
            )? as usize)
        })
    }

    fn webhooks_list(&self) -> Result<Vec<WebhookCursor>, StateError> {
        let rows = self.conn()?.query(
            &format!("SELECT {COLUMNS} FROM webhook_cursors ORDER BY endpoint"),
            &[],
        )?;
        rows.iter().map(read).collect()
    }
}
