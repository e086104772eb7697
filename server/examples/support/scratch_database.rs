//! A PostgreSQL database made for one run of an example and dropped after it, so that a
//! benchmark or a fault check leaves nothing behind.

use sqlx::Connection;

/// A PostgreSQL database made for one run, on the server `admin_url` names.
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl ScratchDatabase {
    /// Errors come back as text, so that every example's own error type takes them.
    pub async fn create(admin_url: &str, prefix: &str) -> Result<Self, String> {
        Self::try_create(admin_url, prefix)
            .await
            .map_err(|e| e.to_string())
    }

    async fn try_create(admin_url: &str, prefix: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let name = format!("{prefix}_{}", std::process::id());
        let mut url = url::Url::parse(admin_url)?;
        url.set_path(&format!("/{name}"));
        let mut admin = sqlx::PgConnection::connect(admin_url).await?;
        // The name is ours (letters, digits and underscores), so it is safe to splice in.
        // Two statements, each on its own: CREATE DATABASE refuses to run in the
        // implicit transaction of a multi-statement query.
        for statement in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut admin)
                .await?;
        }
        admin.close().await?;
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        })
    }

    pub async fn drop_database(self) -> Result<(), String> {
        self.try_drop().await.map_err(|e| e.to_string())
    }

    async fn try_drop(self) -> Result<(), Box<dyn std::error::Error>> {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await?;
        admin.close().await?;
        Ok(())
    }
}
