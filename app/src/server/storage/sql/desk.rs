//! The SQL of the service desk console: audited look-ups, linked accounts, and held
//! feed items (listed a page at a time, resolved with their audit row; a matched one
//! goes in through the feed's own delivery path in the same transaction).

use async_trait::async_trait;

use super::accounts::AccountRow;
use super::audit::insert_audit;
use super::feed::{HELD_COLUMNS, HeldRow};
use super::{Query, SqlStorage, apply_delivery_within, from_millis, new_public_id, to_millis};
use crate::domain::{Account, AccountId, PatientId};
use crate::server::storage::{
    DeskLookup, DeskStore, HeldPage, HeldQuery, HeldResolution, HeldResource, NewDeskLookup,
    ResolveHeld, StorageError,
};

#[async_trait]
impl DeskStore for SqlStorage {
    async fn create_lookup(&self, lookup: NewDeskLookup) -> Result<String, StorageError> {
        let public_id = new_public_id();
        let mut tx = self.write().await?;
        Query::new(
            "INSERT INTO desk_lookups (public_id, agent_account_id, patient_id, reason, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(public_id.as_str())
        .bind(lookup.agent.0)
        .bind(lookup.patient.0)
        .bind(lookup.reason.as_str())
        .bind(to_millis(lookup.at))
        .bind(to_millis(lookup.expires_at))
        .execute(&mut tx)
        .await?;
        insert_audit(&mut tx, lookup.audit).await?;
        tx.commit().await?;
        Ok(public_id)
    }

    async fn find_lookup(
        &self,
        public_id: &str,
        agent: AccountId,
    ) -> Result<Option<DeskLookup>, StorageError> {
        let row: Option<(String, i64, i64, String, i64, i64)> = Query::new(
            "SELECT public_id, agent_account_id, patient_id, reason, created_at, expires_at \
             FROM desk_lookups WHERE public_id = $1 AND agent_account_id = $2",
        )
        .bind(public_id)
        .bind(agent.0)
        .fetch_optional(&mut self.read().await?)
        .await?;
        row.map(
            |(public_id, agent, patient, reason, created_at, expires_at)| {
                Ok(DeskLookup {
                    public_id,
                    agent: AccountId(agent),
                    patient: PatientId(patient),
                    reason,
                    created_at: from_millis(created_at)?,
                    expires_at: from_millis(expires_at)?,
                })
            },
        )
        .transpose()
    }

    async fn accounts_of_patient(&self, patient: PatientId) -> Result<Vec<Account>, StorageError> {
        Query::new(
            "SELECT id, issuer, subject, role, identity_level, patient_id, created_at, \
             last_sign_in_at, previous_sign_in_at, given_name, family_name, birth_date \
             FROM accounts WHERE patient_id = $1 ORDER BY id",
        )
        .bind(patient.0)
        .fetch_all::<AccountRow>(&mut self.read().await?)
        .await?
        .into_iter()
        .map(Account::try_from)
        .collect()
    }

    async fn unlink_account(
        &self,
        account: AccountId,
        patient: PatientId,
        agent: AccountId,
        reason: &str,
        audit: crate::audit::NewAuditEvent,
    ) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        let changed =
            Query::new("UPDATE accounts SET patient_id = NULL WHERE id = $1 AND patient_id = $2")
                .bind(account.0)
                .bind(patient.0)
                .execute(&mut tx)
                .await?;
        if changed == 0 {
            return Err(StorageError::Conflict("account not linked to this record"));
        }
        Query::new(
            "INSERT INTO account_unlinks (account_id, patient_id, agent_account_id, reason, \
             unlinked_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(account.0)
        .bind(patient.0)
        .bind(agent.0)
        .bind(reason)
        .bind(to_millis(audit.at))
        .execute(&mut tx)
        .await?;
        // Signed out everywhere: the next sign-in links by NHS number afresh.
        Query::new("DELETE FROM sessions WHERE account_id = $1")
            .bind(account.0)
            .execute(&mut tx)
            .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await
    }

    async fn held_resources(&self, query: HeldQuery) -> Result<HeldPage, StorageError> {
        let mut conn = self.read().await?;
        let mut count = Query::new("SELECT COUNT(*) FROM held_resources WHERE resolved_at IS NULL");
        let mut list = Query::new(HELD_COLUMNS);
        list.push(" WHERE resolved_at IS NULL");
        if let Some(sender) = query.sender {
            count.push(" AND sender_org_id = ").push_bind(sender.0);
            list.push(" AND sender_org_id = ").push_bind(sender.0);
        }
        list.push(" ORDER BY received_at, id LIMIT ")
            .push_integer(i64::from(query.limit))
            .push(" OFFSET ")
            .push_integer(i64::from(query.offset));
        let total: i64 = count.fetch_scalar(&mut conn).await?;
        let items = list
            .fetch_all::<HeldRow>(&mut conn)
            .await?
            .into_iter()
            .map(HeldResource::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HeldPage {
            items,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn find_held_resource(
        &self,
        public_id: &str,
    ) -> Result<Option<HeldResource>, StorageError> {
        let mut sql = Query::new(HELD_COLUMNS);
        sql.push(" WHERE public_id = ").push_bind(public_id);
        sql.fetch_optional::<HeldRow>(&mut self.read().await?)
            .await?
            .map(HeldResource::try_from)
            .transpose()
    }

    async fn resolve_held_resource(&self, resolve: ResolveHeld) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        let matched_patient = match &resolve.resolution {
            HeldResolution::Matched { patient, .. } => Some(patient.0),
            HeldResolution::Returned => None,
        };
        let changed = Query::new(
            "UPDATE held_resources SET resolved_at = $2, resolution = $3, \
             resolved_by_account_id = $4, resolution_reason = $5, matched_patient_id = $6 \
             WHERE public_id = $1 AND resolved_at IS NULL",
        )
        .bind(resolve.public_id.as_str())
        .bind(to_millis(resolve.at))
        .bind(resolve.resolution.code())
        .bind(resolve.by.0)
        .bind(resolve.reason.as_str())
        .bind(matched_patient)
        .execute(&mut tx)
        .await?;
        if changed == 0 {
            return Err(StorageError::Conflict("held item resolved meanwhile"));
        }
        if let HeldResolution::Matched { delivery, .. } = &resolve.resolution {
            apply_delivery_within(&mut tx, delivery).await?;
        }
        insert_audit(&mut tx, resolve.audit).await?;
        tx.commit().await
    }
}
