//! The SQL of the patient's choices: the state (`patients.left_portal_at`,
//! `source_objections`), the history (`choice_events`), and a choice recorded with its
//! grant changes and audit rows in one transaction.

use async_trait::async_trait;

use super::audit::insert_audit;
use super::proxy::change_grant_within;
use super::{Conn, Query, SqlStorage, from_millis, to_millis};
use crate::audit::ActorKind;
use crate::choices::rules::{Channel, Choice, PatientChoices};
use crate::domain::{OrganisationId, PatientId};
use crate::server::storage::{ChoiceChange, ChoiceEvent, ChoiceStore, StorageError};

/// The choices as they stand, read within any connection.
pub(super) async fn choices_within(
    conn: &mut Conn,
    patient: PatientId,
) -> Result<PatientChoices, StorageError> {
    let left: Option<Option<i64>> = Query::new("SELECT left_portal_at FROM patients WHERE id = $1")
        .bind(patient.0)
        .fetch_optional_scalar(conn)
        .await?;
    let objections: Vec<(i64,)> = Query::new(
        "SELECT organisation_id FROM source_objections WHERE patient_id = $1 \
         ORDER BY organisation_id",
    )
    .bind(patient.0)
    .fetch_all(conn)
    .await?;
    Ok(PatientChoices {
        left_portal_at: left.flatten().map(from_millis).transpose()?,
        objections: objections
            .into_iter()
            .map(|(id,)| OrganisationId(id))
            .collect(),
    })
}

#[derive(sqlx::FromRow)]
struct ChoiceEventRow {
    occurred_at: i64,
    choice: String,
    organisation_name: Option<String>,
    actor_kind: String,
    channel: String,
    evidence_reference: Option<String>,
    reason: Option<String>,
}

impl TryFrom<ChoiceEventRow> for ChoiceEvent {
    type Error = StorageError;
    fn try_from(row: ChoiceEventRow) -> Result<Self, StorageError> {
        Ok(ChoiceEvent {
            at: from_millis(row.occurred_at)?,
            choice: row.choice,
            organisation_name: row.organisation_name,
            actor_kind: ActorKind::from_code(&row.actor_kind)
                .ok_or(StorageError::Corrupt("choice_events.actor_kind"))?,
            channel: Channel::from_code(&row.channel)
                .ok_or(StorageError::Corrupt("choice_events.channel"))?,
            evidence_reference: row.evidence_reference,
            reason: row.reason,
        })
    }
}

#[async_trait]
impl ChoiceStore for SqlStorage {
    async fn patient_choices(&self, patient: PatientId) -> Result<PatientChoices, StorageError> {
        choices_within(&mut self.read().await?, patient).await
    }

    async fn choice_history(&self, patient: PatientId) -> Result<Vec<ChoiceEvent>, StorageError> {
        Query::new(
            "SELECT e.occurred_at, e.choice, o.name AS organisation_name, e.actor_kind, \
             e.channel, e.evidence_reference, e.reason FROM choice_events e \
             LEFT JOIN organisations o ON o.id = e.organisation_id \
             WHERE e.patient_id = $1 ORDER BY e.occurred_at, e.id",
        )
        .bind(patient.0)
        .fetch_all::<ChoiceEventRow>(&mut self.read().await?)
        .await?
        .into_iter()
        .map(ChoiceEvent::try_from)
        .collect()
    }

    async fn record_choice(&self, change: ChoiceChange) -> Result<(), StorageError> {
        let mut tx = self.write().await?;
        // Decided on the choices as they were read: if they changed meanwhile (two
        // clicks, the desk and the patient at once), nothing is written.
        if choices_within(&mut tx, change.patient).await? != change.expected {
            return Err(StorageError::Conflict("choices changed meanwhile"));
        }
        let at = to_millis(change.at);
        // Each change applies only from the state it was decided on: on PostgreSQL a
        // second transaction changing the same row waits for the first and then finds
        // nothing to change, so two changes made at once cannot both apply.
        let changed =
            match change.choice {
                Choice::LeavePortal => {
                    Query::new(
                        "UPDATE patients SET left_portal_at = $2 WHERE id = $1 \
                     AND left_portal_at IS NULL",
                    )
                    .bind(change.patient.0)
                    .bind(at)
                    .execute(&mut tx)
                    .await?
                }
                Choice::ReturnToPortal => {
                    Query::new(
                        "UPDATE patients SET left_portal_at = NULL WHERE id = $1 \
                     AND left_portal_at IS NOT NULL",
                    )
                    .bind(change.patient.0)
                    .execute(&mut tx)
                    .await?
                }
                Choice::ObjectToSource(org) => {
                    Query::new(
                        "INSERT INTO source_objections (patient_id, organisation_id, since) \
                 VALUES ($1, $2, $3) ON CONFLICT (patient_id, organisation_id) DO NOTHING",
                    )
                    .bind(change.patient.0)
                    .bind(org.0)
                    .bind(at)
                    .execute(&mut tx)
                    .await?
                }
                Choice::WithdrawObjection(org) => Query::new(
                    "DELETE FROM source_objections WHERE patient_id = $1 AND organisation_id = $2",
                )
                .bind(change.patient.0)
                .bind(org.0)
                .execute(&mut tx)
                .await?,
            };
        if changed == 0 {
            return Err(StorageError::Conflict("choices changed meanwhile"));
        }
        Query::new(
            "INSERT INTO choice_events (patient_id, occurred_at, choice, organisation_id, \
             actor_kind, actor_account_id, channel, evidence_reference, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(change.patient.0)
        .bind(at)
        .bind(change.choice.code())
        .bind(change.choice.organisation().map(|o| o.0))
        .bind(change.by.actor_kind.code())
        .bind(change.by.actor_account.map(|a| a.0))
        .bind(change.by.channel.code())
        .bind(change.by.evidence_reference.as_deref())
        .bind(change.by.reason.as_deref())
        .execute(&mut tx)
        .await?;
        for grant_change in change.grant_changes {
            change_grant_within(&mut tx, grant_change).await?;
        }
        insert_audit(&mut tx, change.audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
