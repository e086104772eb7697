//! `server`: runs the portal, or one of its operator commands. See `server --help`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

use app::domain::OdsCode;
use app::records::OrganisationKind;
use app::server::storage::{self, CredentialChange, NewOrganisation};
use server::config::{AuditCommand, Cli, Command, Config, OrganisationCommand};
use server::credentials::new_credential;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::resolve(cli.settings) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    server::telemetry::init(config.log_format, &config.log_level);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => server::serve(config).await.map_err(|e| e.to_string()),
        Command::Migrate => migrate(&config).await,
        Command::SeedDemo => seed_demo(&config).await,
        Command::Organisation(command) => organisation(&config, command).await,
        Command::Audit(AuditCommand::Verify { expect }) => {
            return verify_audit(&config, expect.as_ref()).await;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: &Config) -> Result<(), String> {
    config.connect_storage().await.map_err(|e| e.to_string())?;
    println!("The database schema is up to date.");
    Ok(())
}

/// `server audit verify`: prints what it found; exits 1 if the chain is broken or a row
/// was never sealed, 2 if it could not be checked.
async fn verify_audit(
    config: &Config,
    expect: Option<&server::audit_chain::RecordedLink>,
) -> ExitCode {
    let checked = async {
        // Reads only: no migration, so that it runs as the portal's restricted role.
        let store = storage::open_existing(config.database_url.expose()).await?;
        server::audit_chain::verify(store.as_ref(), chrono::Utc::now(), expect).await
    };
    match checked.await {
        Ok(report) => {
            println!("{report}");
            if report.intact() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("error: the audit trail could not be checked: {error}");
            ExitCode::from(2)
        }
    }
}

async fn seed_demo(config: &Config) -> Result<(), String> {
    let store = config.connect_storage().await.map_err(|e| e.to_string())?;
    let issuer = config.simulated_nhs_login_issuer();
    match server::demo::seed_demo(store.as_ref(), chrono::Utc::now(), issuer.as_deref())
        .await
        .map_err(|e| e.to_string())?
    {
        Some(summary) => println!(
            "Loaded demo data: {} organisations, {} record items.",
            summary.organisations, summary.items
        ),
        None => println!("The database already has organisations; demo data was not loaded."),
    }
    Ok(())
}

async fn organisation(config: &Config, command: OrganisationCommand) -> Result<(), String> {
    let store = config.connect_storage().await.map_err(|e| e.to_string())?;
    let now = chrono::Utc::now();
    match command {
        OrganisationCommand::Create {
            ods_code,
            name,
            kind,
        } => {
            let ods_code = OdsCode::parse(&ods_code).map_err(|e| e.to_string())?;
            let kind = OrganisationKind::from_code(&kind)
                .ok_or("kind must be hospital_trust, gp_practice or community_service")?;
            let (token, credential_hash) = new_credential();
            let created = store
                .create_organisation(NewOrganisation {
                    ods_code,
                    name,
                    kind,
                    credential_hash,
                    at: now,
                })
                .await
                .map_err(|e| e.to_string())?;
            println!("Created {} ({}).", created.name, created.ods_code);
            print_credential(&token);
        }
        OrganisationCommand::RotateCredential { ods_code } => {
            let ods_code = OdsCode::parse(&ods_code).map_err(|e| e.to_string())?;
            let (token, hash) = new_credential();
            let changed = store
                .set_organisation_credential(CredentialChange {
                    ods_code,
                    credential_hash: Some(hash),
                    at: now,
                })
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "New credential for {} ({}); the old one no longer works.",
                changed.name, changed.ods_code
            );
            print_credential(&token);
        }
        OrganisationCommand::RevokeCredential { ods_code } => {
            let ods_code = OdsCode::parse(&ods_code).map_err(|e| e.to_string())?;
            let changed = store
                .set_organisation_credential(CredentialChange {
                    ods_code,
                    credential_hash: None,
                    at: now,
                })
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "Revoked the credential of {} ({}).",
                changed.name, changed.ods_code
            );
        }
        OrganisationCommand::List => {
            // Items in excluded categories are never shown; the sender may ask how many.
            let hidden = store
                .count_labelled_items_by_sender(&app::privacy::excluded_labels())
                .await
                .map_err(|e| e.to_string())?;
            for o in store
                .list_organisations()
                .await
                .map_err(|e| e.to_string())?
            {
                let last = o
                    .last_received_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "never".into());
                let credential = if o.has_credential {
                    "active"
                } else {
                    "revoked"
                };
                let not_shown = hidden
                    .iter()
                    .find(|(id, _)| *id == o.id)
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                println!(
                    "{}\t{}\t{}\tcredential {credential}\tlast received {last}\tnot shown (sensitive) {not_shown}",
                    o.ods_code,
                    o.kind.code(),
                    o.name
                );
            }
        }
    }
    Ok(())
}

/// The one place a credential is ever shown: the operator's terminal, once.
fn print_credential(token: &str) {
    println!("Feed credential (shown once; store it in the sender's secret store):");
    println!("{token}");
}
