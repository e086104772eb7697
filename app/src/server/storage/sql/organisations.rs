//! The SQL of source organisations.

use async_trait::async_trait;

use super::audit::insert_audit;
use super::{Conn, Query, SqlStorage, from_millis, to_millis, unique_violation_as};
use crate::audit::{ActorKind, NewAuditEvent, action};
use crate::domain::{OdsCode, Organisation, OrganisationId};
use crate::records::OrganisationKind;
use crate::server::storage::{CredentialChange, NewOrganisation, OrganisationStore, StorageError};

/// An organisation as a table row, or as an object of the JSON array a record read on
/// PostgreSQL gets them in ([`ORGANISATIONS_AS_JSON`]).
#[derive(sqlx::FromRow, serde::Deserialize)]
pub(super) struct OrganisationRow {
    id: i64,
    ods_code: String,
    name: String,
    kind: String,
    has_credential: bool,
    credential_issued_at: Option<i64>,
    last_received_at: Option<i64>,
}

impl TryFrom<OrganisationRow> for Organisation {
    type Error = StorageError;
    fn try_from(row: OrganisationRow) -> Result<Self, StorageError> {
        Ok(Organisation {
            id: OrganisationId(row.id),
            ods_code: OdsCode::parse(&row.ods_code)
                .map_err(|_| StorageError::Corrupt("organisations.ods_code"))?,
            name: row.name,
            kind: OrganisationKind::from_code(&row.kind)
                .ok_or(StorageError::Corrupt("organisations.kind"))?,
            has_credential: row.has_credential,
            credential_issued_at: row.credential_issued_at.map(from_millis).transpose()?,
            last_received_at: row.last_received_at.map(from_millis).transpose()?,
        })
    }
}

/// The organisation columns, as a macro only so that `concat!` can put them into
/// `&'static str` statements.
macro_rules! organisation_columns {
    () => {
        "id, ods_code, name, kind, (credential_hash IS NOT NULL) AS has_credential, \
         credential_issued_at, last_received_at"
    };
}

/// Every organisation, by ODS code, as one JSON array (a scalar subquery of a record
/// read on PostgreSQL).
pub(super) const ORGANISATIONS_AS_JSON: &str = concat!(
    "SELECT json_agg(o ORDER BY o.ods_code)::text FROM (SELECT ",
    organisation_columns!(),
    " FROM organisations) o"
);

/// Every organisation, by ODS code, as rows (a record read on SQLite's direct
/// connections, `../sqlite_direct.rs`).
pub(super) const ORGANISATIONS_BY_CODE: &str = concat!(
    "SELECT ",
    organisation_columns!(),
    " FROM organisations ORDER BY ods_code"
);

/// The rows of [`ORGANISATIONS_BY_CODE`], read on a direct connection.
pub(super) fn organisations_directly(
    connection: &rusqlite::Connection,
) -> Result<Vec<Organisation>, StorageError> {
    let mut statement = Query::new(ORGANISATIONS_BY_CODE).prepare_directly(connection)?;
    let mut rows = statement.raw_query();
    let mut organisations = Vec::new();
    while let Some(row) = rows.next()? {
        organisations.push(Organisation::try_from(OrganisationRow {
            id: row.get(0)?,
            ods_code: row.get(1)?,
            name: row.get(2)?,
            kind: row.get(3)?,
            has_credential: row.get(4)?,
            credential_issued_at: row.get(5)?,
            last_received_at: row.get(6)?,
        })?);
    }
    Ok(organisations)
}

#[async_trait]
impl OrganisationStore for SqlStorage {
    async fn create_organisation(
        &self,
        new: NewOrganisation,
    ) -> Result<Organisation, StorageError> {
        let mut tx = self.write().await?;
        let row: OrganisationRow = Query::new(concat!(
            "INSERT INTO organisations (ods_code, name, kind, credential_hash, \
             credential_issued_at, created_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
            organisation_columns!()
        ))
        .bind(new.ods_code.as_str())
        .bind(&new.name)
        .bind(new.kind.code())
        .bind(&new.credential_hash)
        .bind(to_millis(new.at))
        .fetch_one(&mut tx)
        .await
        .map_err(|e| unique_violation_as(e, "organisation already exists"))?;
        let organisation = Organisation::try_from(row)?;
        insert_audit(
            &mut tx,
            NewAuditEvent {
                actor_org: Some(organisation.id),
                target: Some(organisation.ods_code.to_string()),
                ..NewAuditEvent::new(new.at, ActorKind::System, action::ORGANISATION_CREATED)
            },
        )
        .await?;
        tx.commit().await?;
        Ok(organisation)
    }

    async fn find_organisation_by_ods_code(
        &self,
        ods_code: &OdsCode,
    ) -> Result<Option<Organisation>, StorageError> {
        Query::new(concat!(
            "SELECT ",
            organisation_columns!(),
            " FROM organisations WHERE ods_code = $1"
        ))
        .bind(ods_code.as_str())
        .fetch_optional::<OrganisationRow>(&mut self.read().await?)
        .await?
        .map(Organisation::try_from)
        .transpose()
    }

    async fn find_organisation_by_credential_hash(
        &self,
        credential_hash: &str,
    ) -> Result<Option<Organisation>, StorageError> {
        Query::new(concat!(
            "SELECT ",
            organisation_columns!(),
            " FROM organisations WHERE credential_hash = $1"
        ))
        .bind(credential_hash)
        .fetch_optional::<OrganisationRow>(&mut self.read().await?)
        .await?
        .map(Organisation::try_from)
        .transpose()
    }

    async fn set_organisation_credential(
        &self,
        change: CredentialChange,
    ) -> Result<Organisation, StorageError> {
        let mut tx = self.write().await?;
        let row: Option<OrganisationRow> = Query::new(concat!(
            "UPDATE organisations SET credential_hash = $2, credential_issued_at = $3 \
             WHERE ods_code = $1 RETURNING ",
            organisation_columns!()
        ))
        .bind(change.ods_code.as_str())
        .bind(change.credential_hash.as_deref())
        .bind(
            change
                .credential_hash
                .as_ref()
                .map(|_| to_millis(change.at)),
        )
        .fetch_optional(&mut tx)
        .await?;
        let organisation = Organisation::try_from(row.ok_or(StorageError::NotFound)?)?;
        let what = if change.credential_hash.is_some() {
            action::CREDENTIAL_ROTATED
        } else {
            action::CREDENTIAL_REVOKED
        };
        insert_audit(
            &mut tx,
            NewAuditEvent {
                actor_org: Some(organisation.id),
                target: Some(organisation.ods_code.to_string()),
                ..NewAuditEvent::new(change.at, ActorKind::System, what)
            },
        )
        .await?;
        tx.commit().await?;
        Ok(organisation)
    }

    async fn list_organisations(&self) -> Result<Vec<Organisation>, StorageError> {
        select_organisations(&mut self.read().await?).await
    }
}

/// Every organisation, by ODS code.
pub(super) async fn select_organisations(
    conn: &mut Conn,
) -> Result<Vec<Organisation>, StorageError> {
    Query::new(concat!(
        "SELECT ",
        organisation_columns!(),
        " FROM organisations ORDER BY ods_code"
    ))
    .fetch_all::<OrganisationRow>(conn)
    .await?
    .into_iter()
    .map(Organisation::try_from)
    .collect()
}
