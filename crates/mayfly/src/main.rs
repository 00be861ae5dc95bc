//! `mayfly`: the server (`mayfly serve`) and its admin commands.

mod agent;
mod audit_log;
mod config;
mod credential_process;
mod data_dir;
mod presign;
mod simulate;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::config::ServeArgs;

// The request path allocates many small, short-lived strings; glibc malloc
// was a fifth of AssumeRole's CPU time (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A self-hosted Security Token Service that speaks AWS's wire protocols.
#[derive(Debug, Parser)]
#[command(name = "mayfly", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: STS and IAM on the API listener.
    Serve(Box<ServeArgs>),
    /// Roles Anywhere signing helper: print credential_process JSON.
    CredentialProcess(Box<credential_process::CredentialProcessArgs>),
    /// Keep a workload's credentials fresh and serve them over IMDSv2 and
    /// the container credentials endpoint.
    Agent(Box<agent::AgentArgs>),
    /// Print a presigned S3 URL (GET or PUT) for the gateway, signed with
    /// the credentials an AWS SDK would find.
    Presign(Box<presign::PresignArgs>),
    /// Manage accounts.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Manage the session-token key ring.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage the master key that seals every secret at rest.
    MasterKey {
        #[command(subcommand)]
        command: MasterKeyCommand,
    },
    /// Revoke one temporary access key (ASIA…) at once, on every node.
    RevokeKey {
        /// The temporary access key id.
        #[arg(long)]
        access_key_id: String,
        #[command(flatten)]
        store: config::StoreArgs,
    },
    /// Revoke every active session of a role (AWS's "revoke active
    /// sessions": an AWSRevokeOlderSessions inline deny on
    /// aws:TokenIssueTime); sessions issued afterwards work.
    RevokeSessions {
        /// The role's name.
        #[arg(long)]
        role: String,
        /// The role's account [default: 000000000000].
        #[arg(long, default_value = config::DEFAULT_ACCOUNT_ID)]
        account: String,
        #[command(flatten)]
        store: config::StoreArgs,
    },
    /// Work with policy documents offline.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// The IoT credentials provider's configuration.
    Iot {
        #[command(subcommand)]
        command: IotCommand,
    },
}

#[derive(Debug, Subcommand)]
enum IotCommand {
    /// Manage role aliases: the names devices ask the IoT listener for.
    RoleAlias {
        #[command(subcommand)]
        command: RoleAliasCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RoleAliasCommand {
    /// Create a role alias; prints its name and ARN as JSON.
    Create {
        /// The alias: 1-128 characters of letters, digits and `_=,@-`.
        #[arg(long)]
        role_alias: String,
        /// The role the credentials are for, in the same account.
        #[arg(long)]
        role_arn: String,
        /// Lifetime of the credentials, 900-43200 seconds, at most the
        /// role's MaxSessionDuration [default: 3600].
        #[arg(long)]
        credential_duration_seconds: Option<u32>,
        /// The owning account [default: 000000000000].
        #[arg(long, default_value = config::DEFAULT_ACCOUNT_ID)]
        account: String,
        /// The region of the alias's ARN.
        #[arg(long, default_value = "us-east-1")]
        region: String,
        #[command(flatten)]
        store: config::StoreArgs,
    },
    /// List the account's role aliases.
    List {
        /// The account [default: 000000000000].
        #[arg(long, default_value = config::DEFAULT_ACCOUNT_ID)]
        account: String,
        #[command(flatten)]
        store: config::StoreArgs,
    },
    /// Delete a role alias; devices asking for it get 404 within a second.
    Delete {
        /// The alias.
        #[arg(long)]
        role_alias: String,
        /// The account [default: 000000000000].
        #[arg(long, default_value = config::DEFAULT_ACCOUNT_ID)]
        account: String,
        #[command(flatten)]
        store: config::StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Evaluate policy files against actions and resources, as IAM
    /// SimulateCustomPolicy does: one line per action and resource.
    Simulate(simulate::SimulateArgs),
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create an account with its own root key, printed once to stdout in
    /// aws credentials-file form.
    Create {
        /// The twelve-digit account id.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        store: config::StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new key active; the previous key keeps opening its tokens
    /// until they expire.
    Rotate {
        #[command(flatten)]
        store: config::StoreArgs,
    },
    /// List the ring's keys (never their material).
    List {
        #[command(flatten)]
        store: config::StoreArgs,
    },
    /// Destroy a retired key now: every session token it sealed is refused
    /// (an emergency revocation). Rotate first to destroy the active key.
    Destroy {
        /// The key's id, as `mayfly keys list` shows it.
        #[arg(value_name = "KEY_ID")]
        key_id: u32,
        #[command(flatten)]
        store: config::StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum MasterKeyCommand {
    /// Reseal every secret at rest under a new master key, in one
    /// transaction. A key from DATA_DIR/master.key is replaced there; a key
    /// from MAYFLY_MASTER_KEY is printed once to stdout. Every node must
    /// then restart with the new key.
    Rotate {
        #[command(flatten)]
        store: config::StoreArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mayfly: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mayfly: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::CredentialProcess(args) => credential_process::run(*args).await,
        Command::Agent(args) => agent::run(*args).await,
        Command::Presign(args) => presign::run(*args),
        Command::Account {
            command: AccountCommand::Create { id, store },
        } => {
            init_logging("text", "warn");
            let opened = store.open().await?;
            let now = unix_now();
            let credentials = mayfly_core::admin::create_account(
                opened.store.as_ref(),
                &opened.master_key,
                &id,
                now,
            )
            .await?;
            print!(
                "{}",
                credentials.to_credentials_file(&credentials.account_id)
            );
            Ok(())
        }
        Command::RevokeKey {
            access_key_id,
            store,
        } => {
            init_logging("text", "warn");
            let opened = store.open().await?;
            mayfly_core::admin::revoke_key(opened.store.as_ref(), &access_key_id, unix_now())
                .await?;
            println!("temporary key {access_key_id} is revoked");
            Ok(())
        }
        Command::RevokeSessions {
            role,
            account,
            store,
        } => {
            init_logging("text", "warn");
            let opened = store.open().await?;
            let cutoff = mayfly_core::admin::revoke_sessions(
                opened.store.as_ref(),
                &account,
                &role,
                std::time::SystemTime::now(),
            )
            .await?;
            println!("sessions of role {role} issued before {cutoff} are revoked");
            Ok(())
        }
        Command::Policy {
            command: PolicyCommand::Simulate(args),
        } => {
            for line in simulate::simulate(&args)? {
                println!("{line}");
            }
            Ok(())
        }
        Command::Iot {
            command: IotCommand::RoleAlias { command },
        } => role_alias(command).await,
        Command::MasterKey {
            command: MasterKeyCommand::Rotate { store },
        } => {
            init_logging("text", "warn");
            let opened = store.open().await?;
            let (rotation, new_key) = data_dir::rotate_master_key(&opened).await?;
            eprintln!(
                "resealed under the new master key: {} ring keys, {} access keys, {} MFA seeds",
                rotation.ring_keys, rotation.access_keys, rotation.mfa_seeds
            );
            match new_key {
                data_dir::NewMasterKey::File(path) => {
                    println!("the new master key is in {}", path.display());
                }
                data_dir::NewMasterKey::Environment(key) => {
                    eprintln!(
                        "the new master key follows, shown once: set MAYFLY_MASTER_KEY to it on every node"
                    );
                    println!("{}", key.to_encoded());
                }
            }
            eprintln!(
                "restart every node with the new master key: nodes still running with the old one can no longer load changes"
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate { store },
        } => {
            init_logging("text", "warn");
            let opened = store.open().await?;
            let id = mayfly_core::admin::rotate_keys(
                opened.store.as_ref(),
                &opened.master_key,
                unix_now(),
            )
            .await?;
            println!("key {id} is now active");
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Destroy { key_id, store },
        } => {
            init_logging("text", "warn");
            let opened = store.open().await?;
            mayfly_core::admin::destroy_key(opened.store.as_ref(), key_id).await?;
            println!(
                "key {key_id} is destroyed: the session tokens it sealed are refused from now on"
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::List { store },
        } => {
            init_logging("text", "warn");
            let opened = store.open().await?;
            let keys = mayfly_core::admin::list_keys(opened.store.as_ref()).await?;
            println!("{:<6} {:<8} {:<22} retired", "id", "state", "created");
            for key in keys {
                let state = if key.active {
                    "active"
                } else if key.retired_at.is_some() {
                    "retired"
                } else {
                    "standby"
                };
                println!(
                    "{:<6} {:<8} {:<22} {}",
                    key.key_id,
                    state,
                    config::format_unix(key.created_at),
                    key.retired_at
                        .map_or_else(|| "-".to_owned(), config::format_unix)
                );
            }
            Ok(())
        }
    }
}

/// `mayfly iot role-alias …`.
async fn role_alias(command: RoleAliasCommand) -> Result<()> {
    init_logging("text", "warn");
    match command {
        RoleAliasCommand::Create {
            role_alias,
            role_arn,
            credential_duration_seconds,
            account,
            region,
            store,
        } => {
            let opened = store.open().await?;
            let alias = mayfly_core::iot::create_role_alias(
                opened.store.as_ref(),
                &mayfly_core::iot::NewRoleAlias {
                    account_id: &account,
                    region: &region,
                    alias: &role_alias,
                    role_arn: &role_arn,
                    credential_duration_seconds,
                },
                unix_now(),
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({"roleAlias": alias.alias, "roleAliasArn": alias.arn()})
            );
        }
        RoleAliasCommand::List { account, store } => {
            let opened = store.open().await?;
            let aliases =
                mayfly_core::iot::list_role_aliases(opened.store.as_ref(), &account).await?;
            println!("alias\tarn\trole\tduration\tcreated");
            for alias in aliases {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    alias.alias,
                    alias.arn(),
                    alias.role_arn,
                    alias.credential_duration_seconds,
                    config::format_unix(alias.created_at)
                );
            }
        }
        RoleAliasCommand::Delete {
            role_alias,
            account,
            store,
        } => {
            let opened = store.open().await?;
            mayfly_core::iot::delete_role_alias(opened.store.as_ref(), &account, &role_alias)
                .await?;
            println!("role alias {role_alias} is deleted");
        }
    }
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let mut settings = args.resolve()?;
    init_logging(&settings.log_format, "info");
    let opened = data_dir::open_or_create(&settings.data_dir, settings.store_url.as_ref()).await?;
    if let Some(url) = &settings.store_url {
        tracing::info!(store = %url, "configuration store: PostgreSQL");
    }
    let clock: Arc<dyn mayfly_core::Clock> = Arc::new(mayfly_core::SystemClock::with_offset(
        settings.clock_offset_seconds,
    ));
    if settings.clock_offset_seconds != 0 {
        tracing::warn!(
            offset_seconds = settings.clock_offset_seconds,
            "test clock offset in effect"
        );
    }
    let generated = mayfly_core::admin::initialize(
        opened.store.as_ref(),
        &opened.master_key,
        clock.unix_now(),
        &settings.account_id,
        settings.root_key.take_pair(),
    )
    .await?;
    if let Some(credentials) = generated {
        if settings.root_key.was_given() {
            tracing::info!(account = %credentials.account_id, access_key_id = %credentials.access_key_id, "root key taken from the environment");
        } else {
            let path = data_dir::write_root_credentials(&settings.data_dir, &credentials)?;
            tracing::info!(path = %path.display(), access_key_id = %credentials.access_key_id, "generated the root key; credentials written (profile mayfly-root)");
        }
    }
    if settings.allow_http_issuer {
        tracing::warn!(
            "--allow-http-issuer: http:// OIDC issuers on loopback hosts are accepted (development only)"
        );
    }
    let oidc_keys = mayfly_server::jwks::HttpsJwksFetcher::new(mayfly_server::jwks::JwksConfig {
        allow_http_loopback: settings.allow_http_issuer,
        min_refetch_interval: settings.oidc_min_refetch,
        ..mayfly_server::jwks::JwksConfig::default()
    })?;
    let tracing_audit: Arc<dyn mayfly_core::audit::AuditSink> =
        Arc::new(mayfly_core::audit::TracingAuditSink);
    let audit_log = match &settings.audit_log {
        Some(path) => {
            let sink = audit_log::FileAuditSink::open(path, Arc::clone(&tracing_audit))?;
            tracing::info!(path = %path.display(), "writing CloudTrail audit records");
            Some(Arc::new(sink))
        }
        None => None,
    };
    let audit: Arc<dyn mayfly_core::audit::AuditSink> = match &audit_log {
        Some(sink) => Arc::clone(sink) as Arc<dyn mayfly_core::audit::AuditSink>,
        None => tracing_audit,
    };
    let core = Arc::new(
        mayfly_core::Core::new(
            Arc::clone(&opened.store),
            opened.master_key,
            clock,
            audit,
            mayfly_core::CoreConfig {
                regions: settings.regions.clone(),
                allow_http_issuer: settings.allow_http_issuer,
                saml: settings.saml.clone(),
                max_view_age: settings.max_view_age,
                ..mayfly_core::CoreConfig::default()
            },
        )
        .await?
        .with_oidc_key_source(Arc::new(oidc_keys)),
    );
    let refresher = core.spawn_refresher(std::time::Duration::from_millis(250));

    let tls = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(mayfly_server::load_tls_config(cert, key)?),
        _ => None,
    };
    let tls_for_s3 = tls.clone();
    let listener = mayfly_server::Listener::bind(
        settings.listen,
        tls,
        mayfly_server::ListenerConfig {
            max_body_bytes: settings.max_body_bytes,
            ..mayfly_server::ListenerConfig::default()
        },
    )
    .await?;
    let s3_listener = mayfly_server::StreamingListener::bind(
        settings.s3_listen,
        tls_for_s3,
        mayfly_server::ListenerConfig::default(),
    )
    .await?;
    let s3_addr = s3_listener
        .local_addr()
        .context("reading the bound s3 address")?;
    let s3_scheme = if s3_listener.is_tls() {
        "https"
    } else {
        "http"
    };
    let s3_gateway = Arc::new(
        mayfly_s3::S3Gateway::open(
            Arc::clone(&core),
            &settings.data_dir,
            mayfly_s3::S3Config {
                domain: settings.s3_domain.clone(),
                upstream: match &settings.s3_upstream {
                    Some((url, id, secret, region)) => Some(mayfly_s3::UpstreamConfig {
                        endpoint: url
                            .parse()
                            .with_context(|| format!("--s3-upstream `{url}` is not a URL"))?,
                        access_key_id: id.clone(),
                        secret_access_key: secret.as_str().to_owned(),
                        region: region.clone(),
                    }),
                    None => None,
                },
                ..mayfly_s3::S3Config::default()
            },
        )
        .await
        .context("opening the s3 store")?,
    );
    let iot_listener = match &settings.iot {
        Some(iot) => Some(
            mayfly_server::IotListener::bind(
                iot.listen,
                &iot.tls_cert,
                &iot.tls_key,
                Arc::clone(&core),
                mayfly_server::ListenerConfig::default(),
            )
            .await?,
        ),
        None => None,
    };
    let iot_addr = iot_listener
        .as_ref()
        .map(|l| l.local_addr().context("reading the bound iot address"))
        .transpose()?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let scheme = if listener.is_tls() { "https" } else { "http" };
    tracing::info!(
        api = %format!("{scheme}://{addr}"),
        s3 = %format!("{s3_scheme}://{s3_addr}"),
        iot = %iot_addr.map_or_else(|| "off".to_owned(), |a| format!("https://{a}")),
        data_dir = %settings.data_dir.display(),
        startup_ms = started.elapsed().as_millis(),
        "mayfly is ready"
    );
    let shutdown = shutdown_signal()?;
    // One machine-readable line for scripts and tests that listen on port 0.
    println!("mayfly listening api={scheme}://{addr}");
    println!("mayfly listening s3={s3_scheme}://{s3_addr}");
    if let Some(iot_addr) = iot_addr {
        println!("mayfly listening iot=https://{iot_addr}");
    }
    let (s3_stop, s3_stopped) = tokio::sync::oneshot::channel::<()>();
    let s3_task = tokio::spawn(mayfly_server::serve_streaming(
        s3_listener,
        s3_gateway,
        async move {
            let _ = s3_stopped.await;
        },
    ));

    let (iot_stop, iot_stopped) = tokio::sync::oneshot::channel::<()>();
    let iot_task = iot_listener.map(|iot_listener| {
        tokio::spawn(mayfly_server::serve_iot(iot_listener, async move {
            let _ = iot_stopped.await;
        }))
    });

    mayfly_server::serve(
        listener,
        Arc::new(mayfly_server::ApiFrontEnd::new(core)),
        shutdown,
    )
    .await?;
    let _ = s3_stop.send(());
    let _ = iot_stop.send(());
    if let Ok(Err(error)) = s3_task.await {
        tracing::warn!(%error, "the s3 listener stopped with an error");
    }
    if let Some(Ok(Err(error))) = match iot_task {
        Some(task) => Some(task.await),
        None => None,
    } {
        tracing::warn!(%error, "the iot listener stopped with an error");
    }
    refresher.abort();
    if let Some(audit_log) = &audit_log {
        audit_log.close();
    }
    tracing::info!("mayfly stopped");
    Ok(())
}

/// Install the SIGTERM/SIGINT handlers now (so a signal that arrives right
/// after the ready line is not lost to the default action) and return the
/// future that resolves on the first of them.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate =
            signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut interrupt =
            signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutting down");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
    }
}

fn init_logging(format: &str, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAYFLY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
