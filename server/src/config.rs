//! Configuration: command-line flags, environment variables and an optional TOML file,
//! in that order of precedence, then built-in defaults. `server --help` lists every
//! setting with its variable. Secret settings are wrapped in [`Secret`], which prints as
//! `[redacted]`, and clap is told never to show their values from the environment.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

/// A value that must never be printed or logged (credentials, URLs with passwords).
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The patient health record portal's server.
#[derive(Debug, Parser)]
#[command(name = "server", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the portal (the default).
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Load the demonstration organisations and patients through the feed's ingest path
    /// (only into a database that has no organisations yet), then exit.
    SeedDemo,
    /// Manage source organisations and their feed credentials.
    #[command(subcommand)]
    Organisation(OrganisationCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the audit trail's hash chain from its first link and report every link that
    /// does not hold, and any row older than a minute never sealed. Reads only. Exits 0
    /// when the chain is intact, 1 when it is not.
    Verify {
        /// A head printed by an earlier run (SEQ:HASH), which the chain must still hold.
        #[arg(long)]
        expect: Option<crate::audit_chain::RecordedLink>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrganisationCommand {
    /// Register a source organisation and print its feed credential (shown only once).
    Create {
        /// ODS code, for example RRV or F83004.
        #[arg(long)]
        ods_code: String,
        /// The organisation's name as patients should see it.
        #[arg(long)]
        name: String,
        /// hospital_trust, gp_practice or community_service.
        #[arg(long)]
        kind: String,
    },
    /// Issue a new feed credential (the old one stops working) and print it once.
    RotateCredential {
        #[arg(long)]
        ods_code: String,
    },
    /// Revoke the feed credential: the organisation can no longer send.
    RevokeCredential {
        #[arg(long)]
        ods_code: String,
    },
    /// List organisations with their feed freshness (never their credentials).
    List,
}

/// Every setting, as flags and environment variables. All optional here; defaults are
/// applied by [`Config::resolve`] after the TOML file.
#[derive(Debug, Args, Default)]
pub struct SettingsArgs {
    /// TOML file with any of the settings below (keys in snake_case).
    #[arg(long, env = "PORTAL_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Database URL: sqlite://path/to/file.db (default sqlite://data/portal.db) or
    /// postgres://user@host/db.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<Secret>,

    /// PostgreSQL only: the URL of the role that owns the schema, used only to migrate
    /// it; the portal then connects with DATABASE_URL as a role that cannot change the
    /// audit trail (docs/operations.md). Unset: DATABASE_URL's role migrates as well.
    #[arg(
        long,
        env = "DATABASE_MIGRATION_URL",
        hide_env_values = true,
        global = true
    )]
    pub database_migration_url: Option<Secret>,

    /// Address to listen on [default: 127.0.0.1:3000].
    #[arg(long, env = "PORTAL_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,

    /// The address people use to reach the portal [default: http://<listen>].
    #[arg(long, env = "PORTAL_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Folder with the built site (CSS, wasm, assets) [default: target/site].
    #[arg(long, env = "LEPTOS_SITE_ROOT", global = true)]
    pub site_root: Option<PathBuf>,

    /// Log format [default: human].
    #[arg(long, env = "LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,

    /// Log filter in tracing's syntax [default: info].
    #[arg(long, env = "LOG_LEVEL", global = true)]
    pub log_level: Option<String>,

    /// Demonstration mode: load demo data into an empty database at start and show a
    /// "demo" banner on every page. Never in production.
    #[arg(long, env = "PORTAL_DEMO", global = true)]
    pub demo: Option<bool>,

    /// Largest feed request body in bytes; larger ones get 413 [default: 10485760].
    #[arg(long, env = "PORTAL_FEED_MAX_BODY_BYTES", global = true)]
    pub feed_max_body_bytes: Option<usize>,

    /// Seconds a client has to send each request's headers, counted from when the
    /// connection starts waiting for them; also how long an idle kept-alive connection
    /// stays open [default: 20].
    #[arg(long, env = "PORTAL_HEADER_READ_TIMEOUT", global = true)]
    pub header_read_timeout: Option<u64>,

    /// The most client connections served at once; past it a new connection waits
    /// until one closes [default: 4096].
    #[arg(long, env = "PORTAL_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,

    /// Seconds a request may take from its headers to its answer, body included; past
    /// it the answer is 503 (408 if the body stalls) [default: 60].
    #[arg(long, env = "PORTAL_REQUEST_TIMEOUT", global = true)]
    pub request_timeout: Option<u64>,

    /// TOML file of privacy codes (`[[entries]]` with system, code, label) used instead of
    /// the built-in list [default: the built-in list, see docs/privacy.md].
    #[arg(long, env = "PORTAL_PRIVACY_CODES", global = true)]
    pub privacy_codes: Option<PathBuf>,

    /// TOML file of release-delay rules (`[[rules]]`) used instead of the built-in table;
    /// saved as a new, audited rule-set version at start-up when it differs from the
    /// database [default: server/release-rules.toml, built in].
    #[arg(long, env = "PORTAL_RELEASE_RULES", global = true)]
    pub release_rules: Option<PathBuf>,

    /// Folder for files the portal makes itself (demo keys) [default: data].
    #[arg(long, env = "PORTAL_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// NHS login issuer, e.g. https://auth.login.nhs.uk [default: the built-in simulator
    /// when it is on].
    #[arg(long, env = "NHS_LOGIN_ISSUER", global = true)]
    pub nhs_login_issuer: Option<String>,

    /// Our client id at NHS login.
    #[arg(long, env = "NHS_LOGIN_CLIENT_ID", global = true)]
    pub nhs_login_client_id: Option<String>,

    /// PEM file (PKCS#8 or PKCS#1) with the RSA key registered with NHS login.
    #[arg(long, env = "NHS_LOGIN_PRIVATE_KEY", global = true)]
    pub nhs_login_private_key: Option<PathBuf>,

    /// The key id to send in the client assertion's header: the id the key is
    /// registered under at NHS login, or `none` to send none [default: the key's RFC
    /// 7638 thumbprint].
    #[arg(long, env = "NHS_LOGIN_KEY_ID", global = true)]
    pub nhs_login_key_id: Option<String>,

    /// Redirect URI registered with NHS login [default: <public url>/auth/callback].
    #[arg(long, env = "NHS_LOGIN_REDIRECT_URI", global = true)]
    pub nhs_login_redirect_uri: Option<String>,

    /// Vectors of trust to request, as a JSON array
    /// [default: ["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]].
    #[arg(long, env = "NHS_LOGIN_VTR", global = true)]
    pub nhs_login_vtr: Option<String>,

    /// Turn on the built-in NHS login and staff identity provider simulators (demo and
    /// development only; never in production).
    #[arg(long, env = "NHS_LOGIN_SIMULATOR", global = true)]
    pub nhs_login_simulator: Option<bool>,

    /// Staff identity provider issuer (the trust's own) [default: the simulator when on].
    #[arg(long, env = "STAFF_OIDC_ISSUER", global = true)]
    pub staff_oidc_issuer: Option<String>,

    /// Our client id at the staff identity provider.
    #[arg(long, env = "STAFF_OIDC_CLIENT_ID", global = true)]
    pub staff_oidc_client_id: Option<String>,

    /// PEM file with the RSA key registered with the staff identity provider.
    #[arg(long, env = "STAFF_OIDC_PRIVATE_KEY", global = true)]
    pub staff_oidc_private_key: Option<PathBuf>,

    /// The key id to send in the staff client assertion's header, or `none` [default:
    /// the key's thumbprint].
    #[arg(long, env = "STAFF_OIDC_KEY_ID", global = true)]
    pub staff_oidc_key_id: Option<String>,

    /// Redirect URI for staff sign-in [default: <public url>/staff/auth/callback].
    #[arg(long, env = "STAFF_OIDC_REDIRECT_URI", global = true)]
    pub staff_oidc_redirect_uri: Option<String>,

    /// The claim that carries staff roles [default: roles].
    #[arg(long, env = "STAFF_OIDC_ROLE_CLAIM", global = true)]
    pub staff_oidc_role_claim: Option<String>,

    /// The role value that grants the service desk role [default: service_desk].
    #[arg(long, env = "STAFF_OIDC_ROLE_VALUE", global = true)]
    pub staff_oidc_role_value: Option<String>,

    /// Days a proxy invitation stays open [default: 14].
    #[arg(long, env = "PORTAL_PROXY_INVITATION_DAYS", global = true)]
    pub proxy_invitation_days: Option<u32>,

    /// Age at which a parent's proxy access is suspended unless the young person
    /// consents [default: 16].
    #[arg(long, env = "PORTAL_PROXY_SUSPEND_AT_AGE", global = true)]
    pub proxy_suspend_at_age: Option<u32>,

    /// Ages between which a parent's proxy access is reviewed, as "from-by"
    /// [default: 11-13].
    #[arg(long, env = "PORTAL_PROXY_REVIEW_AGES", global = true)]
    pub proxy_review_ages: Option<String>,

    /// Months ahead of an age rule that patient and proxy are told [default: 3].
    #[arg(long, env = "PORTAL_PROXY_NOTICE_MONTHS", global = true)]
    pub proxy_notice_months: Option<u32>,

    /// Sign-in requests allowed per client address, as BURST/PER_SECOND [default: 60/1].
    #[arg(long, env = "PORTAL_SIGN_IN_LIMIT", global = true)]
    pub sign_in_limit: Option<String>,

    /// Feed requests allowed per credential, as BURST/PER_SECOND [default: 1000/200].
    #[arg(long, env = "PORTAL_FEED_LIMIT", global = true)]
    pub feed_limit: Option<String>,

    /// Feed requests allowed per client address, whatever credentials it presents, as
    /// BURST/PER_SECOND [default: 2000/400].
    #[arg(long, env = "PORTAL_FEED_ADDRESS_LIMIT", global = true)]
    pub feed_address_limit: Option<String>,

    /// Bank holidays beyond the built-in England and Wales list (2025 to 2028), as
    /// comma-separated dates (2029-01-01,2029-03-30); subject access requests due on one
    /// are due the next working day.
    #[arg(long, env = "PORTAL_BANK_HOLIDAYS", global = true)]
    pub bank_holidays: Option<String>,
}

/// The same settings as read from the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    pub database_url: Option<Secret>,
    pub database_migration_url: Option<Secret>,
    pub listen: Option<SocketAddr>,
    pub public_url: Option<String>,
    pub site_root: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    pub demo: Option<bool>,
    pub feed_max_body_bytes: Option<usize>,
    pub header_read_timeout: Option<u64>,
    pub max_connections: Option<usize>,
    pub request_timeout: Option<u64>,
    pub privacy_codes: Option<PathBuf>,
    pub release_rules: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub nhs_login_issuer: Option<String>,
    pub nhs_login_client_id: Option<String>,
    pub nhs_login_private_key: Option<PathBuf>,
    pub nhs_login_key_id: Option<String>,
    pub nhs_login_redirect_uri: Option<String>,
    pub nhs_login_vtr: Option<String>,
    pub nhs_login_simulator: Option<bool>,
    pub staff_oidc_issuer: Option<String>,
    pub staff_oidc_client_id: Option<String>,
    pub staff_oidc_private_key: Option<PathBuf>,
    pub staff_oidc_key_id: Option<String>,
    pub staff_oidc_redirect_uri: Option<String>,
    pub staff_oidc_role_claim: Option<String>,
    pub staff_oidc_role_value: Option<String>,
    pub proxy_invitation_days: Option<u32>,
    pub proxy_suspend_at_age: Option<u32>,
    pub proxy_review_ages: Option<String>,
    pub proxy_notice_months: Option<u32>,
    pub bank_holidays: Option<String>,
    pub sign_in_limit: Option<String>,
    pub feed_limit: Option<String>,
    pub feed_address_limit: Option<String>,
}

/// One identity provider's client settings, after defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProviderConfig {
    /// `None` means "the built-in simulator at its own address".
    pub issuer: Option<String>,
    pub client_id: String,
    pub private_key: PathBuf,
    /// The key id sent with the client assertion.
    pub key_id: crate::auth::keys::KeyIdSetting,
    pub redirect_uri: String,
}

/// The settings in force, after precedence and defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Secret,
    /// The schema owner's URL, for migrations only (PostgreSQL).
    pub database_migration_url: Option<Secret>,
    pub listen: SocketAddr,
    pub public_url: String,
    pub site_root: PathBuf,
    pub log_format: LogFormat,
    pub log_level: String,
    pub demo: bool,
    pub feed_max_body_bytes: usize,
    /// See [`crate::connections::ConnectionLimits`].
    pub header_read_timeout: std::time::Duration,
    /// See [`crate::connections::ConnectionLimits`].
    pub max_connections: usize,
    /// How long a request may take, body included.
    pub request_timeout: std::time::Duration,
    pub privacy_codes: app::privacy::CodeList,
    /// The release-delay rule table (validated).
    pub release_rules: Vec<app::release::ReleaseRule>,
    pub data_dir: PathBuf,
    pub simulator: bool,
    /// NHS login; `None` when neither configured nor simulated (sign-in is then off).
    pub nhs_login: Option<IdentityProviderConfig>,
    pub nhs_login_vectors: Vec<String>,
    pub staff_oidc: Option<IdentityProviderConfig>,
    pub staff_role_claim: String,
    pub staff_role_value: String,
    /// Proxy access: the age rules for child patients and how long invitations last.
    pub proxy: app::proxy::rules::ProxySettings,
    /// The days on which no subject access request is due (England and Wales, and
    /// any the trust adds).
    pub bank_holidays: app::sar::rules::BankHolidays,
    /// Rate limits (`crate::limits`).
    pub sign_in_limit: crate::limits::RateLimit,
    pub feed_limit: crate::limits::RateLimit,
    pub feed_address_limit: crate::limits::RateLimit,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("NHS_LOGIN_VTR must be a JSON array of vectors of trust, such as [\"P9.Cp.Cd\"]")]
    InvalidVectors,
    #[error("{0} needs a client id and a private key file")]
    IncompleteProvider(&'static str),
    #[error("PORTAL_BANK_HOLIDAYS must be comma-separated dates, such as 2029-01-01,2029-03-30")]
    InvalidBankHolidays,
    #[error(
        "the proxy age rules must have review ages \"from-by\" with from <= by < the suspension age, and invitations must last 1 to 90 days"
    )]
    InvalidProxyRules,
    #[error("{0} must be BURST/PER_SECOND with both above zero, such as 60/1")]
    InvalidRateLimit(&'static str),
    #[error("{0} must be a whole number of seconds from 1 to 3600")]
    InvalidTimeout(&'static str),
    #[error("PORTAL_MAX_CONNECTIONS must be a whole number from 1 to 1000000")]
    InvalidMaxConnections,
}

/// A timeout in whole seconds from its setting, or the default; zero (no timeout at
/// all) and more than an hour are refused.
fn seconds(
    setting: &'static str,
    value: Option<u64>,
    default: u64,
) -> Result<std::time::Duration, ConfigError> {
    match value.unwrap_or(default) {
        seconds @ 1..=3600 => Ok(std::time::Duration::from_secs(seconds)),
        _ => Err(ConfigError::InvalidTimeout(setting)),
    }
}

/// A rate limit from its setting, or the default.
fn rate_limit(
    setting: &'static str,
    text: Option<String>,
    default: crate::limits::RateLimit,
) -> Result<crate::limits::RateLimit, ConfigError> {
    match text {
        Some(text) => {
            crate::limits::RateLimit::parse(&text).ok_or(ConfigError::InvalidRateLimit(setting))
        }
        None => Ok(default),
    }
}

/// The proxy rules from their settings, checked.
fn proxy_settings(
    invitation_days: Option<u32>,
    suspend_at_age: Option<u32>,
    review_ages: Option<String>,
    notice_months: Option<u32>,
) -> Result<app::proxy::rules::ProxySettings, ConfigError> {
    let defaults = app::proxy::rules::ProxySettings::default();
    let mut age_rules = defaults.age_rules;
    if let Some(text) = review_ages {
        let (from, by) = text.split_once('-').ok_or(ConfigError::InvalidProxyRules)?;
        age_rules.review_from_age = from
            .trim()
            .parse()
            .map_err(|_| ConfigError::InvalidProxyRules)?;
        age_rules.review_by_age = by
            .trim()
            .parse()
            .map_err(|_| ConfigError::InvalidProxyRules)?;
    }
    age_rules.suspend_at_age = suspend_at_age.unwrap_or(age_rules.suspend_at_age);
    age_rules.notice_months = notice_months.unwrap_or(age_rules.notice_months);
    let invitation_days = invitation_days.map_or(defaults.invitation_days, i64::from);
    if age_rules.review_from_age > age_rules.review_by_age
        || age_rules.review_by_age >= age_rules.suspend_at_age
        || age_rules.notice_months > 24
        || !(1..=90).contains(&invitation_days)
    {
        return Err(ConfigError::InvalidProxyRules);
    }
    Ok(app::proxy::rules::ProxySettings {
        age_rules,
        invitation_days,
    })
}

/// The built-in England and Wales bank holidays, with the trust's own added.
fn bank_holidays(extra: Option<String>) -> Result<app::sar::rules::BankHolidays, ConfigError> {
    let mut days: Vec<chrono::NaiveDate> = app::sar::rules::ENGLAND_AND_WALES_BANK_HOLIDAYS
        .iter()
        .filter_map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .collect();
    for text in extra.iter().flat_map(|list| list.split(',')) {
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        days.push(
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| ConfigError::InvalidBankHolidays)?,
        );
    }
    Ok(app::sar::rules::BankHolidays::new(days))
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/portal.db";

/// The release-delay rules a trust would recognise (see the file's comments).
pub const BUILT_IN_RELEASE_RULES: &str = include_str!("../release-rules.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseRulesFile {
    rules: Vec<app::release::ReleaseRule>,
}

/// Reads and checks a release-rules file: every rule well formed, no two rules with the
/// same keys, categories written as section codes.
pub fn parse_release_rules(text: &str) -> Result<Vec<app::release::ReleaseRule>, String> {
    let file: ReleaseRulesFile = toml::from_str(text)
        .map_err(|e| e.message().lines().next().unwrap_or("invalid").to_owned())?;
    app::release::validate_rules(&file.rules).map_err(|e| e.to_string())?;
    Ok(file.rules)
}

impl Config {
    /// Opens storage as the portal runs on it: migrated with the schema owner's URL when
    /// one is set, then connected with the portal's own.
    pub async fn connect_storage(
        &self,
    ) -> Result<std::sync::Arc<dyn app::server::storage::Storage>, app::server::storage::StorageError>
    {
        app::server::storage::connect_as(
            self.database_url.expose(),
            self.database_migration_url.as_ref().map(Secret::expose),
        )
        .await
    }

    /// The issuer of the built-in NHS login simulator, when it is the identity provider.
    /// The demo proxies are its people, so demo data makes their grants only then.
    pub fn simulated_nhs_login_issuer(&self) -> Option<String> {
        self.nhs_login
            .as_ref()
            .filter(|provider| provider.issuer.is_none())
            .map(|_| format!("{}/simulator/nhs-login", self.public_url))
    }

    /// Applies precedence: flags and environment, then the file, then defaults.
    pub fn resolve(args: SettingsArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str::<SettingsFile>(&text).map_err(|e| ConfigError::Invalid {
                    path: path.clone(),
                    // toml's message quotes the offending line, which could hold a
                    // secret: keep only the first line of its explanation.
                    message: e.message().lines().next().unwrap_or("invalid").to_owned(),
                })?
            }
            None => SettingsFile::default(),
        };
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000)));
        let public_url = args
            .public_url
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        let data_dir: PathBuf = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| "data".into());
        let simulator = args
            .nhs_login_simulator
            .or(file.nhs_login_simulator)
            .unwrap_or(false);
        let nhs_login_vectors = match args.nhs_login_vtr.or(file.nhs_login_vtr) {
            Some(text) => serde_json::from_str::<Vec<String>>(&text)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::InvalidVectors)?,
            None => app::auth::DEFAULT_VECTORS
                .iter()
                .map(|v| (*v).to_owned())
                .collect(),
        };
        let nhs_login = provider(
            "NHS login",
            args.nhs_login_issuer.or(file.nhs_login_issuer),
            args.nhs_login_client_id.or(file.nhs_login_client_id),
            args.nhs_login_private_key.or(file.nhs_login_private_key),
            args.nhs_login_key_id.or(file.nhs_login_key_id),
            args.nhs_login_redirect_uri
                .or(file.nhs_login_redirect_uri)
                .unwrap_or_else(|| format!("{public_url}/auth/callback")),
            simulator.then(|| ("portal-demo", data_dir.join("keys/nhs-login-client.pem"))),
        )?;
        let staff_oidc = provider(
            "The staff identity provider",
            args.staff_oidc_issuer.or(file.staff_oidc_issuer),
            args.staff_oidc_client_id.or(file.staff_oidc_client_id),
            args.staff_oidc_private_key.or(file.staff_oidc_private_key),
            args.staff_oidc_key_id.or(file.staff_oidc_key_id),
            args.staff_oidc_redirect_uri
                .or(file.staff_oidc_redirect_uri)
                .unwrap_or_else(|| format!("{public_url}/staff/auth/callback")),
            simulator.then(|| ("portal-staff-demo", data_dir.join("keys/staff-client.pem"))),
        )?;
        let proxy = proxy_settings(
            args.proxy_invitation_days.or(file.proxy_invitation_days),
            args.proxy_suspend_at_age.or(file.proxy_suspend_at_age),
            args.proxy_review_ages.or(file.proxy_review_ages),
            args.proxy_notice_months.or(file.proxy_notice_months),
        )?;
        let bank_holidays = bank_holidays(args.bank_holidays.or(file.bank_holidays))?;
        let sign_in_limit = rate_limit(
            "PORTAL_SIGN_IN_LIMIT",
            args.sign_in_limit.or(file.sign_in_limit),
            crate::limits::RateLimit::SIGN_IN,
        )?;
        let feed_limit = rate_limit(
            "PORTAL_FEED_LIMIT",
            args.feed_limit.or(file.feed_limit),
            crate::limits::RateLimit::FEED,
        )?;
        let feed_address_limit = rate_limit(
            "PORTAL_FEED_ADDRESS_LIMIT",
            args.feed_address_limit.or(file.feed_address_limit),
            crate::limits::RateLimit::FEED_ADDRESS,
        )?;
        Ok(Config {
            proxy,
            bank_holidays,
            sign_in_limit,
            feed_limit,
            feed_address_limit,
            database_url: args
                .database_url
                .or(file.database_url)
                .unwrap_or_else(|| Secret::new(DEFAULT_DATABASE_URL)),
            database_migration_url: args.database_migration_url.or(file.database_migration_url),
            listen,
            public_url,
            site_root: args
                .site_root
                .or(file.site_root)
                .unwrap_or_else(|| "target/site".into()),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            log_level: args
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".to_owned()),
            demo: args.demo.or(file.demo).unwrap_or(false),
            feed_max_body_bytes: args
                .feed_max_body_bytes
                .or(file.feed_max_body_bytes)
                .unwrap_or(crate::feed::DEFAULT_MAX_BODY_BYTES),
            header_read_timeout: seconds(
                "PORTAL_HEADER_READ_TIMEOUT",
                args.header_read_timeout.or(file.header_read_timeout),
                20,
            )?,
            max_connections: match args.max_connections.or(file.max_connections) {
                None => crate::connections::DEFAULT_MAX_CONNECTIONS,
                Some(count @ 1..=1_000_000) => count,
                Some(_) => return Err(ConfigError::InvalidMaxConnections),
            },
            request_timeout: seconds(
                "PORTAL_REQUEST_TIMEOUT",
                args.request_timeout.or(file.request_timeout),
                60,
            )?,
            privacy_codes: match args.privacy_codes.or(file.privacy_codes) {
                Some(path) => {
                    let text =
                        std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                            path: path.clone(),
                            source,
                        })?;
                    toml::from_str(&text).map_err(|e| ConfigError::Invalid {
                        path,
                        message: e.message().lines().next().unwrap_or("invalid").to_owned(),
                    })?
                }
                None => app::privacy::CodeList::default_list(),
            },
            release_rules: match args.release_rules.or(file.release_rules) {
                Some(path) => {
                    let text =
                        std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                            path: path.clone(),
                            source,
                        })?;
                    parse_release_rules(&text)
                        .map_err(|message| ConfigError::Invalid { path, message })?
                }
                None => parse_release_rules(BUILT_IN_RELEASE_RULES).map_err(|message| {
                    ConfigError::Invalid {
                        path: "server/release-rules.toml".into(),
                        message,
                    }
                })?,
            },
            data_dir,
            simulator,
            nhs_login,
            nhs_login_vectors,
            staff_oidc,
            staff_role_claim: args
                .staff_oidc_role_claim
                .or(file.staff_oidc_role_claim)
                .unwrap_or_else(|| "roles".to_owned()),
            staff_role_value: args
                .staff_oidc_role_value
                .or(file.staff_oidc_role_value)
                .unwrap_or_else(|| "service_desk".to_owned()),
        })
    }
}

/// An identity provider's settings: all given, or simulated (the simulator's defaults
/// fill what is missing), or none at all (that sign-in is off).
fn provider(
    name: &'static str,
    issuer: Option<String>,
    client_id: Option<String>,
    private_key: Option<PathBuf>,
    key_id: Option<String>,
    redirect_uri: String,
    simulated: Option<(&str, PathBuf)>,
) -> Result<Option<IdentityProviderConfig>, ConfigError> {
    let key_id = crate::auth::keys::KeyIdSetting::parse(key_id.as_deref());
    match (issuer, simulated) {
        (None, None) => Ok(None),
        (Some(issuer), _) => match (client_id, private_key) {
            (Some(client_id), Some(private_key)) => Ok(Some(IdentityProviderConfig {
                issuer: Some(issuer),
                client_id,
                private_key,
                key_id,
                redirect_uri,
            })),
            _ => Err(ConfigError::IncompleteProvider(name)),
        },
        (None, Some((demo_client, demo_key))) => Ok(Some(IdentityProviderConfig {
            issuer: None,
            client_id: client_id.unwrap_or_else(|| demo_client.to_owned()),
            private_key: private_key.unwrap_or(demo_key),
            key_id,
            redirect_uri,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portal.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:4000\"\nlog_level = \"debug\"\ndemo = true\n",
        )
        .unwrap();
        let config = Config::resolve(SettingsArgs {
            config: Some(path),
            log_level: Some("warn".into()),
            ..SettingsArgs::default()
        })
        .unwrap();
        assert_eq!(config.listen.port(), 4000);
        assert_eq!(config.log_level, "warn");
        assert!(config.demo);
        assert_eq!(config.database_url.expose(), DEFAULT_DATABASE_URL);
        assert_eq!(config.public_url, "http://127.0.0.1:4000");
        assert_eq!(
            config.nhs_login, None,
            "no NHS login unless configured or simulated"
        );
    }

    #[test]
    fn the_simulator_fills_in_nhs_login_and_staff_sign_in() {
        let config = Config::resolve(SettingsArgs {
            nhs_login_simulator: Some(true),
            public_url: Some("http://127.0.0.1:3000/".into()),
            ..SettingsArgs::default()
        })
        .unwrap();
        let nhs = config.nhs_login.unwrap();
        assert_eq!(nhs.issuer, None);
        assert_eq!(nhs.redirect_uri, "http://127.0.0.1:3000/auth/callback");
        assert_eq!(
            config.staff_oidc.unwrap().redirect_uri,
            "http://127.0.0.1:3000/staff/auth/callback"
        );
        assert_eq!(config.nhs_login_vectors, ["P9.Cp.Cd", "P9.Cp.Ck", "P9.Cm"]);
    }

    #[test]
    fn a_trust_can_replace_the_privacy_code_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codes.toml");
        std::fs::write(&path, "[[entries]]\nsystem = \"https://trust.example/codes\"\ncode = \"GUM1\"\nlabel = \"sexual-health\"\n").unwrap();
        let config = Config::resolve(SettingsArgs {
            privacy_codes: Some(path),
            ..SettingsArgs::default()
        })
        .unwrap();
        assert_eq!(
            config
                .privacy_codes
                .labels_for([(Some("https://trust.example/codes"), "GUM1")]),
            ["sexual-health"]
        );
        let default = Config::resolve(SettingsArgs::default()).unwrap();
        assert_eq!(
            default.privacy_codes,
            app::privacy::CodeList::default_list()
        );
    }

    #[test]
    fn a_real_provider_needs_its_client_id_and_key() {
        let missing = Config::resolve(SettingsArgs {
            nhs_login_issuer: Some("https://auth.login.nhs.uk".into()),
            ..SettingsArgs::default()
        });
        assert!(matches!(missing, Err(ConfigError::IncompleteProvider(_))));
        let bad_vectors = Config::resolve(SettingsArgs {
            nhs_login_vtr: Some("P9".into()),
            ..SettingsArgs::default()
        });
        assert!(matches!(bad_vectors, Err(ConfigError::InvalidVectors)));
    }

    #[test]
    fn a_trust_adds_bank_holidays_to_the_built_in_list() {
        let day = |text| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        let days = bank_holidays(Some("2029-01-01, 2029-03-30".to_owned())).unwrap();
        assert!(!days.is_working_day(day("2029-03-30")));
        assert!(
            !days.is_working_day(day("2026-12-25")),
            "the built-in list stays"
        );
        assert!(days.is_working_day(day("2029-04-03")));
        assert!(matches!(
            bank_holidays(Some("Easter Monday".to_owned())),
            Err(ConfigError::InvalidBankHolidays)
        ));
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portal.toml");
        std::fs::write(&path, "databse_url = \"sqlite://x\"\n").unwrap();
        assert!(matches!(
            Config::resolve(SettingsArgs {
                config: Some(path),
                ..SettingsArgs::default()
            }),
            Err(ConfigError::Invalid { .. })
        ));
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let config = Config::resolve(SettingsArgs {
            database_url: Some(Secret::new("postgres://portal:hunter2@db/portal")),
            ..SettingsArgs::default()
        })
        .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"));
        assert!(printed.contains("[redacted]"));
    }
}
